package logging

import (
	"bytes"
	"errors"
	"regexp"
	"strings"
	"testing"

	"github.com/coreos/go-systemd/v22/journal"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

type sent struct {
	msg  string
	pri  journal.Priority
	vars map[string]string
}

func TestJournalCore(t *testing.T) {
	var got []sent
	core := &journalCore{level: zapcore.InfoLevel, send: func(m string, p journal.Priority, v map[string]string) error {
		got = append(got, sent{m, p, v})
		return nil
	}}
	log := zap.New(core).Named("reconcile").With(zap.String("app", "web"))
	log.Debug("hidden")
	log.Info("write", zap.String("unit", "web.service"), zap.String("reason", "new app"))
	log.Error("action failed", zap.Error(errors.New("boom")))
	log.Warn("w", zap.String("message", "x"))
	if len(got) != 3 {
		t.Fatalf("sent %d entries, want 3 (debug filtered)", len(got))
	}
	if got[0].msg != `reconcile: write app=web reason="new app" unit=web.service` || got[0].pri != journal.PriInfo {
		t.Errorf("info entry %+v", got[0])
	}
	v := got[0].vars
	if v["APP"] != "web" || v["UNIT"] != "web.service" || v["LOGGER"] != "reconcile" || v["SYSLOG_IDENTIFIER"] != "ynhd" {
		t.Errorf("vars %v", v)
	}
	if got[1].pri != journal.PriErr || got[1].vars["ERROR"] != "boom" {
		t.Errorf("error entry %+v", got[1])
	}
	if got[2].pri != journal.PriWarning || got[2].vars["YNHD_MESSAGE"] != "x" {
		t.Errorf("warn entry %+v", got[2])
	}
}

func TestJournalFallback(t *testing.T) {
	var buf bytes.Buffer
	core := &journalCore{level: zapcore.InfoLevel, fallback: &buf,
		send: func(string, journal.Priority, map[string]string) error { return errors.New("no journal") }}
	zap.New(core).Info("hello", zap.Int("n", 1))
	if !strings.Contains(buf.String(), "INFO hello n=1") {
		t.Errorf("fallback wrote %q", buf.String())
	}
}

func TestConsole(t *testing.T) {
	var buf bytes.Buffer
	log, err := New(Options{Level: zapcore.InfoLevel, Output: &buf, ForceConsole: true})
	if err != nil {
		t.Fatal(err)
	}
	log.Named("daemon").Info("starting", zap.String("app", "web"))
	// The journal's message, after the time and the level.
	if s := buf.String(); !regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ INFO daemon: starting app=web\n$`).MatchString(s) {
		t.Errorf("console line %q", s)
	}
}

func TestVarName(t *testing.T) {
	for in, want := range map[string]string{"app": "APP", "next_in": "NEXT_IN", "a.b-c": "A_B_C", "_x": "X", "1a": "A", "priority": "YNHD_PRIORITY", "user_unit": "YNHD_USER_UNIT", "syslog_facility": "YNHD_SYSLOG_FACILITY"} {
		if got := varName(in); got != want {
			t.Errorf("varName(%q) = %q, want %q", in, got, want)
		}
	}
}
