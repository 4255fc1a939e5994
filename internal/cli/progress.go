package cli

import (
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ynhd/ynhd/internal/reconcile"
)

// ynhd prints no colour anywhere; where it redraws a line (progress on a
// terminal) it uses a carriage return and spaces only, no escape sequences,
// so NO_COLOR and dumb terminals need nothing special.

// terminalWidth returns the width of w when w is a terminal that can
// redraw a line (not TERM=dumb), else 0.
func terminalWidth(w io.Writer) int {
	f, ok := w.(*os.File)
	if !ok || os.Getenv("TERM") == "dumb" {
		return 0
	}
	if _, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS); err != nil {
		return 0
	}
	if ws, err := unix.IoctlGetWinsize(int(f.Fd()), unix.TIOCGWINSZ); err == nil && ws.Col > 0 {
		return int(ws.Col)
	}
	return 80
}

// jobProgress shows the pulls and builds that `ynhd apply` waits for. On a
// terminal (width > 0) it keeps one line up to date: each app, what it
// does, for how long, and its last step (a build's STEP n/m, a pull's
// layer count). Elsewhere it prints a plain line when a job starts or
// reaches a new step, and nothing as time passes.
type jobProgress struct {
	w     io.Writer
	width int
	shown int               // runes on the terminal line now
	last  map[string]string // app -> the line printed last (plain mode)
	now   func() time.Time
}

func newJobProgress(w io.Writer) *jobProgress {
	return &jobProgress{w: w, width: terminalWidth(w), last: map[string]string{}, now: time.Now}
}

// show reports jobs, the reconciler's Preparing().
func (p *jobProgress) show(jobs map[string]reconcile.Preparation) {
	apps := make([]string, 0, len(jobs))
	for app := range jobs {
		apps = append(apps, app)
	}
	sort.Strings(apps)
	if p.width == 0 {
		for _, app := range apps {
			j := jobs[app]
			line := fmt.Sprintf("%s: %s %s", app, j.Kind, j.Image)
			if j.Step != "" {
				line += ": " + j.Step
			}
			if p.last[app] != line {
				fmt.Fprintln(p.w, line)
				p.last[app] = line
			}
		}
		return
	}
	parts := make([]string, 0, len(apps))
	for _, app := range apps {
		j := jobs[app]
		s := fmt.Sprintf("%s: %s %s (%s)", app, j.Kind, j.Image, p.now().Sub(j.Since).Round(time.Second))
		if j.Step != "" {
			s += " " + j.Step
		}
		parts = append(parts, s)
	}
	p.draw(strings.Join(parts, " | "))
}

// draw replaces the terminal line with s, cut to the width.
func (p *jobProgress) draw(s string) {
	r := []rune(s)
	if len(r) > p.width-1 {
		r = append(r[:max(p.width-2, 0)], '…')
	}
	pad := max(p.shown-len(r), 0)
	fmt.Fprintf(p.w, "\r%s%s\r%s", string(r), strings.Repeat(" ", pad), string(r))
	p.shown = len(r)
}

// done clears the terminal line.
func (p *jobProgress) done() {
	if p.width > 0 && p.shown > 0 {
		fmt.Fprintf(p.w, "\r%s\r", strings.Repeat(" ", p.shown))
		p.shown = 0
	}
}
