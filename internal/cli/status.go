package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/ynhd/ynhd/internal/daemon"
	"github.com/ynhd/ynhd/internal/logging"
	"github.com/ynhd/ynhd/internal/reconcile"
)

var lookPath = exec.LookPath

// appReport is one line of `ynhd status`.
type appReport struct {
	reconcile.AppStatus
	Condition string `json:"condition"`
	// UnitRestarts counts systemd's own restarts of the unit (NRestarts).
	UnitRestarts uint32 `json:"unit_restarts"`
}

func cmdStatus(args []string, e env) int {
	var c commonFlags
	fs := newFlagSet("status", e, &c)
	asJSON := fs.Bool("json", false, "print JSON")
	if _, err := parseFlags(fs, args); err != nil {
		return flagExit(err)
	}
	conn, err := connect(c.system)
	if err != nil {
		fmt.Fprintf(e.stderr, "ynhd status: %v\n", err)
		return exitProblem
	}
	defer conn.Close()
	l := c.layout(e)
	log, _ := logging.New(logging.Options{Output: e.stderr, ForceConsole: true})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rec := newReconciler(ctx, l, e, conn, log)
	st, err := rec.Snapshot(ctx)
	if err != nil {
		fmt.Fprintf(e.stderr, "ynhd status: %v\n", err)
		return exitProblem
	}
	// What only the daemon knows: its backoff and apply errors.
	daemonSt, derr := daemon.ReadStatus(l.statusFile)
	byApp := map[string]reconcile.AppStatus{}
	if derr == nil {
		for _, a := range daemonSt.Apps {
			byApp[a.App] = a
		}
	}
	var reports []appReport
	for _, a := range st.Apps {
		if d, ok := byApp[a.App]; ok {
			a.Restarts, a.CrashLooping, a.NextRetry, a.LastError = d.Restarts, d.CrashLooping, d.NextRetry, d.LastError
			a.PodmanError, a.Warning = d.PodmanError, d.Warning
		}
		r := appReport{AppStatus: a, Condition: a.Condition()}
		if p, err := conn.GetUnitTypePropertyContext(ctx, a.Unit, "Service", "NRestarts"); err == nil {
			r.UnitRestarts, _ = p.Value.Value().(uint32)
		}
		reports = append(reports, r)
	}
	if *asJSON {
		out := struct {
			Summary string      `json:"summary"`
			Daemon  bool        `json:"daemon_status_file"`
			Apps    []appReport `json:"apps"`
		}{st.Summary(), derr == nil, reports}
		enc := json.NewEncoder(e.stdout)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		enc.Encode(out)
		return exitOK
	}
	fmt.Fprintln(e.stdout, st.Summary())
	if len(reports) == 0 {
		fmt.Fprintf(e.stdout, "no declarations in %s\n", l.declDir)
		return exitOK
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
	for _, r := range reports {
		for _, line := range strings.Split(strings.TrimSpace(r.Problem+"\n"+r.LastError+"\n"+r.Warning), "\n") {
			if line != "" {
				fmt.Fprintf(e.stdout, "%s: %s\n", r.App, line)
			}
		}
		if r.CrashLooping && !r.NextRetry.IsZero() {
			fmt.Fprintf(e.stdout, "%s: crash-looping; next restart in %s\n", r.App, time.Until(r.NextRetry).Round(time.Second))
		}
	}
	if derr != nil {
		fmt.Fprintln(e.stdout, "(the ynhd daemon is not running or has not finished a pass: restart counts and errors are systemd's only)")
	}
	return exitOK
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
