package cli

import (
	"context"
	"fmt"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/ynhd/ynhd/internal/daemon"
	"github.com/ynhd/ynhd/internal/decl"
	updates "github.com/ynhd/ynhd/internal/update"
)

func updateCmd(e *env) *cobra.Command {
	var c commonFlags
	var checkOnly bool
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:               "update [--check] [APP...]",
		Short:             "check apps for a newer image now and update them",
		Long:              `Update asks the daemon to check the named apps (by default every app with an [update] policy) for a newer image of their tag now, and to move each to it: the app is restarted on the new image, the apps that require it after it is healthy, and it is rolled back to the previous image unless it runs, healthy, within its health_window. --check only reports what is available. Exit 1 when a check failed or an update was rolled back. See docs/updates.md.`,
		Example:           "  ynhd update --check\n  ynhd update web",
		Args:              args(0, -1, "[--check] [APP...]"),
		ValidArgsFunction: completeApps(e, &c, -1, cobra.ShellCompDirectiveNoFileComp),
		RunE:              runE(func(a []string) int { return cmdUpdate(c, checkOnly, timeout, a, *e) }),
	}
	c.register(cmd, false)
	cmd.Flags().BoolVar(&checkOnly, "check", false, "only report what is available")
	cmd.Flags().DurationVar(&timeout, "timeout", 30*time.Minute, "how long to wait for the results")
	return cmd
}

func historyCmd(e *env) *cobra.Command {
	var c commonFlags
	var asJSON bool
	cmd := &cobra.Command{
		Use:               "history APP",
		Short:             "an app's image updates, rollbacks and failed checks",
		Long:              `History lists an app's image updates, rollbacks and failed update checks, oldest first, with their times, image IDs, digests and reasons.`,
		Example:           "  ynhd history web\n  ynhd history --json web",
		Args:              args(1, 1, "[--json] APP"),
		ValidArgsFunction: completeApps(e, &c, 1, cobra.ShellCompDirectiveNoFileComp),
		RunE:              runE(func(a []string) int { return cmdHistory(c, asJSON, a[0], *e) }),
	}
	c.register(cmd, false)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

// cmdUpdate asks the daemon to check apps for a newer image now and, unless
// checkOnly, to update them; it waits for each result.
func cmdUpdate(c commonFlags, checkOnly bool, timeout time.Duration, names []string, e env) int {
	l := c.layout(e)
	apps, code := updatableApps(l, e, names)
	if code >= 0 {
		return code
	}
	conn, err := connect(false)
	if err != nil {
		fmt.Fprintf(e.stderr, "ynhd update: %v\n", err)
		return exitProblem
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	st, err := daemon.ReadStatus(l.statusFile)
	if err != nil || !daemonRunning(ctx, conn, st.Pid) {
		fmt.Fprintln(e.stderr, "ynhd update: the ynhd daemon runs updates and is not running; start it: systemctl --user start ynhd")
		return exitProblem
	}
	store := updates.StoreIn(l.stateDir)
	asked := time.Now()
	for _, a := range apps {
		if err := store.Ask(updates.Request{App: a, Check: checkOnly, Time: asked}); err != nil {
			fmt.Fprintf(e.stderr, "ynhd update: %v\n", err)
			return exitProblem
		}
	}
	if err := syscall.Kill(st.Pid, syscall.SIGHUP); err != nil {
		fmt.Fprintf(e.stderr, "ynhd update: waking the daemon (pid %d): %v\n", st.Pid, err)
		return exitProblem
	}
	code = exitOK
	for _, a := range apps {
		s, err := waitChecked(ctx, store, a, asked)
		if err != nil {
			fmt.Fprintf(e.stderr, "ynhd update: %s: no result yet (%v); the daemon may still be at it: ynhd history %s\n", a, err, a)
			code = exitProblem
			continue
		}
		fmt.Fprintf(e.stdout, "%s: %s\n", a, s.Result)
		if strings.HasPrefix(s.Result, "check failed") || strings.HasPrefix(s.Result, "rolled back") {
			code = exitProblem
		}
	}
	return code
}

// updatableApps returns the named apps, or every app whose update policy
// is not off, after checking that each exists, is valid and has one.
func updatableApps(l layout, e env, names []string) ([]string, int) {
	files, err := decl.DeclarationFiles(l.declDir)
	if err != nil {
		fmt.Fprintf(e.stderr, "ynhd update: reading %s: %v\n", l.declDir, err)
		return nil, exitProblem
	}
	for _, n := range names {
		if code := requireApp(l, e, "update", n); code >= 0 {
			return nil, code
		}
	}
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	var apps []string
	code := -1
	for _, ld := range loadSet(files, e, false) {
		name := decl.AppName(ld.File)
		if len(names) > 0 && !want[name] {
			continue
		}
		switch {
		case !ld.OK():
			if len(names) > 0 {
				fmt.Fprintf(e.stderr, "ynhd update: %s's declaration has errors; ynhd check %s says which\n", name, ld.File)
				code = exitProblem
			}
		case ld.Parsed.App.UpdatePolicy() == "off":
			if len(names) > 0 {
				fmt.Fprintf(e.stderr, "ynhd update: updates are off for %s: add [update] policy = \"registry\" (or \"local\") to %s\n", name, ld.File)
				code = exitUsage
			}
		default:
			apps = append(apps, name)
		}
	}
	if code >= 0 {
		return nil, code
	}
	if len(apps) == 0 {
		fmt.Fprintf(e.stderr, "ynhd update: no app in %s has an [update] policy\n", l.declDir)
		return nil, exitOK
	}
	return apps, -1
}

// waitChecked waits until app's state records a check that ended after
// asked.
func waitChecked(ctx context.Context, store updates.Store, app string, asked time.Time) (*updates.State, error) {
	for {
		s, err := store.Load(app)
		if err == nil && s.LastCheck.After(asked) {
			return s, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// cmdHistory lists an app's updates, rollbacks and failed checks.
func cmdHistory(c commonFlags, asJSON bool, app string, e env) int {
	l := c.layout(e)
	if code := requireApp(l, e, "history", app); code >= 0 {
		return code
	}
	s, err := updates.StoreIn(l.stateDir).Load(app)
	if err != nil {
		fmt.Fprintf(e.stderr, "ynhd history: %v\n", err)
		return exitProblem
	}
	if asJSON {
		ev := s.History
		if ev == nil {
			ev = []updates.Event{}
		}
		writeJSON(e.stdout, struct {
			SchemaVersion int             `json:"schema_version"`
			App           string          `json:"app"`
			Events        []updates.Event `json:"events"`
		}{jsonSchemaVersion, app, ev})
		return exitOK
	}
	if len(s.History) == 0 {
		fmt.Fprintf(e.stdout, "%s: no updates yet\n", app)
		return exitOK
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME\tEVENT\tFROM\tTO\tDIGEST\tREASON")
	for _, ev := range s.History {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", ev.Time.Local().Format(time.DateTime), ev.Kind, orDash(updates.ShortID(ev.From)),
			orDash(updates.ShortID(ev.To)), orDash(ev.Digest), orDash(ev.Reason))
	}
	tw.Flush()
	return exitOK
}

// updateSummary is what `ynhd status` shows of an app's updates.
type updateSummary struct {
	Digest    string         `json:"digest,omitempty"`
	ImageID   string         `json:"image_id,omitempty"`
	LastCheck time.Time      `json:"last_check"`
	Result    string         `json:"result,omitempty"`
	Last      *updates.Event `json:"last,omitempty"`
}

// updateStatus returns app's update summary, nil when it was never checked.
func updateStatus(stateDir, app string) *updateSummary {
	s, err := updates.StoreIn(stateDir).Load(app)
	if err != nil || s.LastCheck.IsZero() {
		return nil
	}
	u := &updateSummary{Digest: s.Digest, ImageID: s.ImageID, LastCheck: s.LastCheck, Result: s.Result}
	if ev, ok := s.Last(); ok {
		u.Last = &ev
	}
	return u
}

func (u *updateSummary) lines(app string) []string {
	out := []string{fmt.Sprintf("%s: update check %s ago: %s", app, time.Since(u.LastCheck).Round(time.Second), u.Result)}
	if u.Digest != "" {
		out = append(out, fmt.Sprintf("%s: tag digest %s, image %s", app, u.Digest, orDash(updates.ShortID(u.ImageID))))
	}
	if ev := u.Last; ev != nil {
		line := fmt.Sprintf("%s: %s at %s (%s -> %s)", app, ev.Kind, ev.Time.Local().Format(time.DateTime), updates.ShortID(ev.From), updates.ShortID(ev.To))
		if ev.Reason != "" {
			line += ": " + ev.Reason
		}
		out = append(out, line)
	}
	return out
}
