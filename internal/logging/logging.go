// Package logging builds ynhd's zap logger. Under systemd (stderr connected
// to the journal) entries go through the native journal protocol with the
// right priority per level and every field as a journal variable (app ->
// APP, unit -> UNIT), so `journalctl --user -u ynhd -p err` shows only
// errors and `journalctl --user -u ynhd APP=web` one app. The MESSAGE
// itself carries the fields too ("reconcile: write app=web"), readable in
// plain journalctl. Elsewhere (ynhd apply or plan in a terminal, ynhd run
// outside systemd) it writes the same message to a writer, after the time
// and the level: "2026-11-29T10:00:00Z INFO reconcile: write app=web".
package logging

import (
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/coreos/go-systemd/v22/journal"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// Options configure New.
type Options struct {
	Level        zapcore.Level
	Output       io.Writer // console output; default os.Stderr
	ForceJournal bool      // use the journal even if stderr is not connected to it
	ForceConsole bool      // never use the journal
}

// New returns the logger.
func New(o Options) (*zap.Logger, error) {
	if o.Output == nil {
		o.Output = os.Stderr
	}
	useJournal := o.ForceJournal
	if !o.ForceConsole && !useJournal {
		useJournal, _ = journal.StderrIsJournalStream()
	}
	if useJournal {
		return zap.New(&journalCore{level: o.Level, send: journal.Send, fallback: o.Output}, zap.ErrorOutput(countingWriter{io.Discard})), nil
	}
	// The console gets the journal's message, so that a line reads the
	// same in a terminal and in journalctl.
	return zap.New(&journalCore{level: o.Level, fallback: o.Output}, zap.ErrorOutput(countingWriter{io.Discard})), nil
}

// journalCore is a zapcore.Core that sends entries to the journal, or
// with no send function writes them as console lines to fallback.
type journalCore struct {
	level    zapcore.LevelEnabler
	fields   []zapcore.Field
	send     func(msg string, p journal.Priority, vars map[string]string) error
	fallback io.Writer
}

func (c *journalCore) Enabled(l zapcore.Level) bool { return c.level.Enabled(l) }

func (c *journalCore) With(fs []zapcore.Field) zapcore.Core {
	clone := *c
	clone.fields = append(append([]zapcore.Field(nil), c.fields...), fs...)
	return &clone
}

func (c *journalCore) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if c.Enabled(e.Level) {
		return ce.AddCore(e, c)
	}
	return ce
}

func (c *journalCore) Write(e zapcore.Entry, fs []zapcore.Field) error {
	enc := zapcore.NewMapObjectEncoder()
	for _, f := range append(append([]zapcore.Field(nil), c.fields...), fs...) {
		f.AddTo(enc)
	}
	keys := make([]string, 0, len(enc.Fields))
	for k := range enc.Fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	vars := map[string]string{"SYSLOG_IDENTIFIER": "ynhd"}
	var msg strings.Builder
	if e.LoggerName != "" {
		msg.WriteString(e.LoggerName + ": ")
		vars["LOGGER"] = e.LoggerName
	}
	msg.WriteString(e.Message)
	for _, k := range keys {
		v := fmt.Sprint(enc.Fields[k])
		msg.WriteString(" " + k + "=" + quote(v))
		if name := varName(k); name != "" {
			vars[name] = v
		}
	}
	if c.send == nil {
		if _, err := fmt.Fprintf(c.fallback, "%s %s %s\n", e.Time.UTC().Format(time.RFC3339), e.Level.CapitalString(), msg.String()); err != nil {
			dropped.Add(1)
		}
		return nil
	}
	if err := c.send(msg.String(), priority(e.Level), vars); err != nil {
		// journald is gone for now: its stream on stderr is likely gone
		// too. A log entry that cannot be written is dropped and counted,
		// never fatal (SIGPIPE is the caller's to handle; see
		// IgnoreSIGPIPE).
		if c.fallback == nil {
			dropped.Add(1)
		} else if _, werr := fmt.Fprintf(c.fallback, "%s %s %s\n", e.Time.Format(time.RFC3339), e.Level.CapitalString(), msg.String()); werr != nil {
			dropped.Add(1)
		}
	}
	return nil
}

// dropped counts log entries that could be written nowhere.
var dropped atomic.Int64

// Dropped returns how many log entries could be written nowhere (the
// journal and stderr both failed) since the process started.
func Dropped() int64 { return dropped.Load() }

// IgnoreSIGPIPE makes writes to a closed stdout or stderr (journald
// stopped, the reading end of a pipe gone) fail with EPIPE instead of
// killing the process, as Go does by default for those two descriptors.
func IgnoreSIGPIPE() {
	signal.Notify(make(chan os.Signal, 1), syscall.SIGPIPE)
}

// countingWriter drops what cannot be written and counts it.
type countingWriter struct{ w io.Writer }

func (c countingWriter) Write(b []byte) (int, error) {
	if _, err := c.w.Write(b); err != nil {
		dropped.Add(1)
	}
	return len(b), nil
}

func (c countingWriter) Sync() error { return nil }

func (c *journalCore) Sync() error { return nil }

// priority maps zap levels to syslog priorities.
func priority(l zapcore.Level) journal.Priority {
	switch {
	case l <= zapcore.DebugLevel:
		return journal.PriDebug
	case l == zapcore.InfoLevel:
		return journal.PriInfo
	case l == zapcore.WarnLevel:
		return journal.PriWarning
	case l == zapcore.ErrorLevel:
		return journal.PriErr
	}
	return journal.PriCrit
}

// varName turns a field key into a journal variable name: upper case,
// [A-Z0-9_], not starting with _ or a digit. Reserved names are prefixed.
func varName(k string) string {
	var b strings.Builder
	for _, r := range strings.ToUpper(k) {
		switch {
		case r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	n := strings.TrimLeft(b.String(), "_0123456789")
	if n == "" {
		return ""
	}
	// Names journald or journalctl give a meaning: USER_UNIT, for one,
	// would file ynhd's entry under that app's unit.
	for _, p := range []string{"MESSAGE", "PRIORITY", "SYSLOG_", "CODE_", "ERRNO", "USER_UNIT", "UNIT_", "OBJECT_", "COREDUMP_", "INVOCATION_ID", "DOCUMENTATION", "TID"} {
		if n == p || (strings.HasSuffix(p, "_") && strings.HasPrefix(n, p)) {
			return "YNHD_" + n
		}
	}
	return n
}

func quote(v string) string {
	if v == "" || strings.ContainsAny(v, " \t\"=\n") {
		return fmt.Sprintf("%q", v)
	}
	return v
}
