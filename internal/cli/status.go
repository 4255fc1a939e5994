package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"go.uber.org/zap"

	"github.com/ynhd/ynhd/internal/daemon"
	"github.com/ynhd/ynhd/internal/reconcile"
)

var lookPath = exec.LookPath

// appReport is one line of `ynhd status`.
type appReport struct {
	reconcile.AppStatus
	// UnitRestarts counts systemd's own restarts of the unit (NRestarts).
	UnitRestarts uint32 `json:"unit_restarts"`
	// Update is the last image update check, update or rollback.
	Update *updateSummary `json:"update,omitempty"`
}

func cmdStatus(c commonFlags, asJSON bool, e env) int {
	conn, err := connect(c.system)
	if err != nil {
		fmt.Fprintf(e.stderr, "ynhd status: %v\n", err)
		return exitProblem
	}
	defer conn.Close()
	l := c.layout(e)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// The snapshot's own findings (a crash loop, podman not answering)
	// are in the status itself; its log would only repeat them.
	rec := newReconciler(ctx, l, e, conn, zap.NewNop())
	defer rec.Close()
	st, err := rec.Snapshot(ctx)
	if err != nil {
		fmt.Fprintf(e.stderr, "ynhd status: %v\n", err)
		return exitProblem
	}
	// What only the daemon knows: its backoff, retries, background work
	// and apply errors. Its file is trusted only while the daemon that
	// wrote it runs.
	daemonSt, derr := daemon.ReadStatus(l.statusFile)
	running := derr == nil && daemonRunning(ctx, conn, daemonSt.Pid)
	byApp := map[string]reconcile.AppStatus{}
	if running {
		for _, a := range daemonSt.Apps {
			byApp[a.App] = a
		}
		st.Problems = daemonSt.Problems
	}
	var reports []appReport
	for i, a := range st.Apps {
		if d, ok := byApp[a.App]; ok {
			a.Restarts, a.CrashLooping, a.NextRetry, a.LastError = d.Restarts, d.CrashLooping, d.NextRetry, d.LastError
			a.PodmanError, a.Warning, a.Preparing = d.PodmanError, d.Warning, d.Preparing
			a.Condition = ""
			a.Condition = reconcile.ConditionOf(a)
			st.Apps[i] = a
		}
		r := appReport{AppStatus: a, Update: updateStatus(l.stateDir, a.App)}
		if p, err := conn.GetUnitTypePropertyContext(ctx, a.Unit, "Service", "NRestarts"); err == nil {
			r.UnitRestarts, _ = p.Value.Value().(uint32)
		}
		reports = append(reports, r)
	}
	code := exitOK
	if st.Failing() {
		code = exitFailing
	}
	daemonState := "running"
	if !running {
		daemonState = "not running"
	}
	if asJSON {
		out := struct {
			SchemaVersion int                     `json:"schema_version"`
			Summary       string                  `json:"summary"`
			Daemon        string                  `json:"daemon"`
			Problems      []string                `json:"problems,omitempty"`
			Apps          []appReport             `json:"apps"`
			Groups        []reconcile.GroupStatus `json:"groups,omitempty"`
		}{reconcile.StatusSchemaVersion, st.Summary(), daemonState, st.Problems, reports, st.Groups}
		if out.Apps == nil {
			out.Apps = []appReport{}
		}
		enc := json.NewEncoder(e.stdout)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		enc.Encode(out)
		return code
	}
	fmt.Fprintln(e.stdout, st.Summary())
	if !running {
		unit := "systemctl --user start ynhd"
		if c.system {
			unit = "systemctl start ynhd"
		}
		fmt.Fprintf(e.stdout, "the ynhd daemon is not running: nothing keeps these apps as declared (%s); restart counts and errors below are systemd's only\n", unit)
	}
	for _, p := range st.Problems {
		fmt.Fprintln(e.stdout, p)
	}
	if len(reports) == 0 {
		fmt.Fprintf(e.stdout, "no declarations in %s\n", l.declDir)
		return code
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "APP\tSTATE\tUNIT\tCONTAINER\tHEALTH\tIMAGE\tPORTS\tSINCE\tRESTARTS")
	for _, r := range reports {
		id := r.ContainerID
		if len(id) > 12 {
			id = id[:12]
		}
		since := "-"
		if !r.Since.IsZero() {
			since = time.Since(r.Since).Round(time.Second).String()
		}
		restarts := strconv.Itoa(int(r.UnitRestarts) + r.Restarts)
		if r.CrashLooping {
			restarts += " (crash-looping)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.App, r.Condition, orDash(strings.Trim(r.ActiveState+"/"+r.SubState, "/")),
			orDash(strings.TrimSpace(id+" "+r.ContainerState)), orDash(r.Health), orDash(r.Image), orDash(strings.Join(r.Ports, ",")), since, restarts)
	}
	tw.Flush()
	printGroups(e, st.Groups)
	for _, r := range reports {
		if r.Preparing != nil {
			fmt.Fprintf(e.stdout, "%s: %s\n", r.App, r.Preparing)
		}
		if r.Update != nil {
			for _, line := range r.Update.lines(r.App) {
				fmt.Fprintln(e.stdout, line)
			}
		}
		if r.StoppedByUser {
			fmt.Fprintf(e.stdout, "%s: stopped with ynhd stop; ynhd start %s (or an edit) starts it again\n", r.App, r.App)
		}
		for _, line := range strings.Split(strings.TrimSpace(r.Problem+"\n"+r.LastError+"\n"+r.PodmanError+"\n"+r.Warning), "\n") {
			if line != "" {
				fmt.Fprintf(e.stdout, "%s: %s\n", r.App, line)
			}
		}
		switch {
		case r.CrashLooping && !r.NextRetry.IsZero():
			fmt.Fprintf(e.stdout, "%s: crash-looping; next restart in %s\n", r.App, time.Until(r.NextRetry).Round(time.Second))
		case r.PodmanError != "" && !r.NextRetry.IsZero():
			fmt.Fprintf(e.stdout, "%s: retrying in %s\n", r.App, max(time.Until(r.NextRetry), 0).Round(time.Second))
		}
	}
	return code
}

// daemonRunning reports whether the daemon that wrote a status file runs:
// its process exists and ynhd.service is active (the unit is how people
// run it; a daemon run by hand counts when its process exists).
func daemonRunning(ctx context.Context, conn reconcile.Manager, pid int) bool {
	if pid <= 0 || syscall.Kill(pid, 0) != nil && !errors.Is(syscall.Kill(pid, 0), syscall.EPERM) {
		return false
	}
	p, err := conn.GetUnitPropertyContext(ctx, "ynhd.service", "MainPID")
	if err != nil {
		return true
	}
	main, _ := p.Value.Value().(uint32)
	return main == 0 || int(main) == pid
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// printGroups prints one line per group of apps (part_of): its target's
// state and its members.
func printGroups(e env, groups []reconcile.GroupStatus) {
	for _, g := range groups {
		fmt.Fprintf(e.stdout, "group %s: %s %s; apps %s\n", g.Name, g.Unit, strings.Trim(g.ActiveState+"/"+g.SubState, "/"), strings.Join(g.Apps, ", "))
	}
}
