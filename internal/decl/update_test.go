package decl

import (
	"strings"
	"testing"
	"time"
)

func TestScheduleNext(t *testing.T) {
	loc := time.UTC
	from := time.Date(2026, 11, 25, 10, 20, 0, 0, loc) // a Wednesday
	for _, tc := range []struct{ in, want string }{
		{"daily", "2026-11-26 00:00:00"},
		{"hourly", "2026-11-25 11:00:00"},
		{"weekly", "2026-11-30 00:00:00"},
		{"monthly", "2026-12-01 00:00:00"},
		{"04:30", "2026-11-26 04:30:00"},
		{"10:20", "2026-11-26 10:20:00"},
		{"10:20:01", "2026-11-25 10:20:01"},
		{"*-*-* 23:59:59", "2026-11-25 23:59:59"},
		{"Mon,Thu 04:30", "2026-11-26 04:30:00"},
		{"wed 09:00", "2026-12-02 09:00:00"},
	} {
		sc, err := ParseSchedule(tc.in)
		if err != nil {
			t.Errorf("%q: %v", tc.in, err)
			continue
		}
		if got := sc.Next(from).Format(time.DateTime); got != tc.want {
			t.Errorf("%q: next after %s is %s, want %s", tc.in, from.Format(time.DateTime), got, tc.want)
		}
	}
}

func TestScheduleRejects(t *testing.T) {
	for _, in := range []string{"", "yearly", "25:00", "12:60", "1:2:3:4", "Foo 10:00", "2026-*-* 10:00",
		"*-*-* 10:00 UTC", "10", "-1:00", "10:00\nExecStart=x", "+1:00"} {
		if _, err := ParseSchedule(in); err == nil {
			t.Errorf("%q: accepted", in)
		}
	}
}

func TestUpdateDelayStable(t *testing.T) {
	a := &App{Name: "web", Update: &Update{RandomDelay: &Duration{time.Hour}}}
	d := a.UpdateDelay()
	if d < 0 || d >= time.Hour || d != a.UpdateDelay() {
		t.Fatalf("delay %v: want a stable value in [0, 1h)", d)
	}
	b := &App{Name: "db", Update: a.Update}
	if b.UpdateDelay() == d {
		t.Errorf("two apps got the same delay %v", d)
	}
}

func TestUpdateValidation(t *testing.T) {
	for _, tc := range []struct{ body, want string }{
		{"image = \"docker.io/library/nginx:1\"\n[update]\npolicy = \"registry\"\n", ""},
		{"image = \"docker.io/library/nginx:1\"\n[update]\npolicy = \"sometimes\"\n", "update.policy"},
		{"image = \"docker.io/library/nginx:1\"\n[update]\npolicy = \"registry\"\nschedule = \"yearly\"\n", "update.schedule"},
		{"image = \"docker.io/library/nginx:1\"\n[update]\npolicy = \"registry\"\nhealth_window = \"1s\"\n", "update.health_window"},
		{"image = \"docker.io/library/nginx:1\"\n[update]\npolicy = \"registry\"\nkeep_images = 0\n", ""},
		{"image = \"docker.io/library/nginx:1\"\n[update]\npolicy = \"registry\"\nkeep_images = -1\n", "update.keep_images"},
		{"image = \"docker.io/library/nginx:1\"\npull = \"always\"\n[update]\npolicy = \"registry\"\n", "pull = \"always\""},
		{"image = \"nginx:1\"\n[update]\npolicy = \"registry\"\n", "short name"},
		{"image = \"docker.io/library/nginx@sha256:" + strings.Repeat("a", 64) + "\"\n[update]\npolicy = \"registry\"\n", "pinned by digest"},
		{"image = \"docker.io/library/nginx:1\"\npersistent = true\n[update]\npolicy = \"local\"\n", ""},
		{"image = \"docker.io/library/nginx:1\"\npersistent = true\n[update]\npolicy = \"registry\"\n", ""},
		{"[build]\n[update]\npolicy = \"registry\"\n", "[build]"},
		{"[build]\n[update]\npolicy = \"local\"\n", ""},
		{"image = \"docker.io/library/nginx:1\"\n[update]\npolicy = \"registry\"\nsurprise = 1\n", "surprise"},
	} {
		p, ds := Decode("/d/app.toml", []byte("version = 1\n"+tc.body), "/home/u")
		var msgs []string
		for _, d := range ds {
			msgs = append(msgs, d.String())
		}
		if p != nil {
			for _, d := range Validate(p, Host{Rootless: true, UnprivilegedPortStart: 1024}) {
				if d.Severity == Error {
					msgs = append(msgs, d.String())
				}
			}
		}
		got := strings.Join(msgs, "\n")
		switch {
		case tc.want == "" && got != "":
			t.Errorf("%s: unexpected errors:\n%s", tc.body, got)
		case tc.want != "" && !strings.Contains(got, tc.want):
			t.Errorf("%s: errors do not mention %q:\n%s", tc.body, tc.want, got)
		}
	}
}
