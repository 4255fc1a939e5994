package cli

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/cpuguy83/go-md2man/v2/md2man"
	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"
)

// manDate is the date in every man page's header: fixed, so that the
// pages are the same bytes wherever and whenever they are generated.
var manDate = time.Date(2026, time.November, 29, 0, 0, 0, 0, time.UTC)

const manSource, manManual = "ynhd", "ynhd manual"

// ManDocs are the documents the section 5 and 8 pages are made from.
type ManDocs struct {
	Declarations []byte // docs/declarations.md: ynhd.toml(5)
	SystemMode   []byte // docs/system-mode.md: ynhd-system(8)
}

// WriteManPages writes the man pages into dir (created if missing):
// ynhd(1) and one ynhd-COMMAND(1) per command, from the same commands as
// the help; ynhd.toml(5) and ynhd-system(8) from the documents. It
// returns the names of the files written.
func WriteManPages(dir string, docs ManDocs) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	e := env{}
	root := newRoot(&e)
	root.Long += "\n\n" + manRootSections
	hdr := &doc.GenManHeader{Section: "1", Date: &manDate, Source: manSource, Manual: manManual}
	var names []string
	var walk func(*cobra.Command) error
	walk = func(c *cobra.Command) error {
		if !c.IsAvailableCommand() && c != root || c.Name() == "help" {
			return nil
		}
		var b bytes.Buffer
		h := *hdr
		if err := doc.GenMan(c, &h, &b); err != nil {
			return err
		}
		name := strings.ReplaceAll(c.CommandPath(), " ", "-") + ".1"
		if err := os.WriteFile(filepath.Join(dir, name), b.Bytes(), 0o644); err != nil {
			return err
		}
		names = append(names, name)
		for _, sub := range c.Commands() {
			if err := walk(sub); err != nil {
				return err
			}
		}
		return nil
	}
	if err := walk(root); err != nil {
		return nil, err
	}
	pages := []struct {
		name, title, section, short, synopsis string
		md                                    []byte
		seeAlso                               string
	}{
		{"ynhd.toml.5", "YNHD.TOML", "5", "declaration of one app for ynhd",
			"**~/.config/ynhd/APP.toml**, **$XDG_CONFIG_HOME/ynhd/APP.toml**, **/etc/ynhd/APP.toml** (system mode)",
			docs.Declarations, "**ynhd(1)**, **ynhd-check(1)**, **ynhd-render(1)**, **ynhd-system(8)**, **podman-run(1)**, **systemd.service(5)**"},
		{"ynhd-system.8", "YNHD-SYSTEM", "8", "ynhd in system mode, and per-user mode without a login session",
			"**ynhd run --system**; **systemctl enable --now ynhd** (as root)",
			docs.SystemMode, "**ynhd(1)**, **ynhd.toml(5)**, **systemd.exec(5)** (DynamicUser=), **loginctl(1)** (enable-linger)"},
	}
	for _, p := range pages {
		if len(p.md) == 0 {
			return nil, fmt.Errorf("no document for %s", p.name)
		}
		var b bytes.Buffer
		fmt.Fprintf(&b, "%% %q %q %q %q %q\n", p.title, p.section, manDate.Format("Jan 2006"), manSource, manManual)
		fmt.Fprintf(&b, "# NAME\n%s \\- %s\n\n# SYNOPSIS\n%s\n\n# DESCRIPTION\n", strings.TrimSuffix(p.name, "."+p.section), p.short, p.synopsis)
		b.Write(manBody(p.md))
		fmt.Fprintf(&b, "\n# SEE ALSO\n%s\n", p.seeAlso)
		if err := os.WriteFile(filepath.Join(dir, p.name), md2man.Render(b.Bytes()), 0o644); err != nil {
			return nil, err
		}
		names = append(names, p.name)
	}
	return names, nil
}

// manRootSections close ynhd(1)'s description (markdown).
var manRootSections = func() string {
	var b strings.Builder
	b.WriteString("# EXIT STATUS\nEvery command uses the same codes:\n\n")
	for _, x := range exitTable {
		fmt.Fprintf(&b, "**%d**\n: %s\n\n", x.code, x.meaning)
	}
	b.WriteString(`# JSON OUTPUT
**check**, **plan**, **status**, **doctor** and **snapshots** print JSON with **--json**: one
object with a **schema_version** (1), which changes only when a key is removed or changes
meaning. Keys are snake_case; unit states are systemd's own names (**active**, **failed**, ...).
docs/cli.md describes each document.

# FILES
**~/.config/ynhd/APP.toml**
: an app's declaration (**$XDG_CONFIG_HOME/ynhd** when set); see **ynhd.toml(5)**

**/etc/ynhd/APP.toml**
: in system mode; see **ynhd-system(8)**

**$XDG_RUNTIME_DIR/ynhd/status.json**
: the daemon's last status
`)
	return b.String()
}()

var (
	mdLink    = regexp.MustCompile(`\[((?:\\.|[^\]\\])+)\]\(([^)]*)\)`)
	mdHeading = regexp.MustCompile(`^#+ `)
)

// manBody makes a document's markdown fit a man page: its title line and
// its table of contents go (the page has its own NAME, and anchors mean
// nothing there), links to other documents keep only their text, and
// its sections become the page's.
func manBody(md []byte) []byte {
	lines := strings.Split(string(md), "\n")
	var out []string
	skipping, fenced := false, false
	for i, l := range lines {
		if strings.HasPrefix(l, "```") {
			fenced = !fenced
		}
		heading := !fenced && mdHeading.MatchString(l)
		switch {
		case i == 0 && strings.HasPrefix(l, "# "):
			continue
		case !fenced && (l == "Contents:" || l == "## Contents"):
			skipping = true
			continue
		case skipping && heading:
			skipping = false
		case skipping:
			continue
		}
		if !fenced {
			l = mdLink.ReplaceAllStringFunc(l, func(m string) string {
				sub := mdLink.FindStringSubmatch(m)
				if strings.HasPrefix(sub[2], "http://") || strings.HasPrefix(sub[2], "https://") {
					return m
				}
				return sub[1]
			})
		}
		out = append(out, l)
	}
	return []byte(strings.Join(out, "\n"))
}
