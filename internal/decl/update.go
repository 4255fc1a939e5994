package decl

import (
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"
	"time"
)

// Bounds of the [update] table's values.
const (
	MaxHealthWindow = 6 * time.Hour
	MaxRandomDelay  = 7 * 24 * time.Hour
	MaxKeepImages   = 20
)

var updatePolicies = set("off", "registry", "local")

// Schedule is a parsed update schedule: a subset of systemd calendar
// expressions that ynhd evaluates itself, so that checking whether a check
// is due needs no process and no D-Bus call.
//
// Accepted forms: "hourly", "daily", "weekly" (Monday), "monthly" (the
// 1st), each at 00:00 (hourly: minute 0); "HH:MM" or "HH:MM:SS" (every
// day at that time); the same prefixed by "*-*-* " (systemd's spelling of
// every day); and a weekday list before the time, "Mon,Thu 04:30". Times
// are in the host's local time zone.
type Schedule struct {
	Hourly   bool
	Monthly  bool
	Weekdays [7]bool // by time.Weekday; all false: every day
	Hour     int
	Minute   int
	Second   int
}

var weekdayNames = map[string]time.Weekday{
	"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday, "wed": time.Wednesday,
	"thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday,
}

// ParseSchedule parses an update schedule (see Schedule).
func ParseSchedule(s string) (Schedule, error) {
	var sc Schedule
	switch strings.TrimSpace(s) {
	case "hourly":
		sc.Hourly = true
		return sc, nil
	case "daily":
		return sc, nil
	case "weekly":
		sc.Weekdays[time.Monday] = true
		return sc, nil
	case "monthly":
		sc.Monthly = true
		return sc, nil
	}
	fields := strings.Fields(s)
	if len(fields) == 0 || len(fields) > 3 {
		return sc, errSchedule(s)
	}
	if len(fields) > 1 && !strings.ContainsAny(fields[0], "-:") {
		for _, d := range strings.Split(fields[0], ",") {
			wd, ok := weekdayNames[strings.ToLower(d)]
			if !ok || d == "" {
				return sc, fmt.Errorf("%q is not a weekday in %q: use Mon, Tue, Wed, Thu, Fri, Sat or Sun", d, s)
			}
			sc.Weekdays[wd] = true
		}
		fields = fields[1:]
	}
	if len(fields) == 2 {
		if fields[0] != "*-*-*" {
			return sc, fmt.Errorf("%q: only \"*-*-*\" (every day) is understood as a date; %s", s, scheduleForms)
		}
		fields = fields[1:]
	}
	if len(fields) != 1 {
		return sc, errSchedule(s)
	}
	parts := strings.Split(fields[0], ":")
	if len(parts) < 2 || len(parts) > 3 {
		return sc, errSchedule(s)
	}
	limits := []int{23, 59, 59}
	vals := []*int{&sc.Hour, &sc.Minute, &sc.Second}
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || len(p) == 0 || len(p) > 2 || p[0] < '0' || p[0] > '9' || n < 0 || n > limits[i] {
			return sc, errSchedule(s)
		}
		*vals[i] = n
	}
	return sc, nil
}

const scheduleForms = "write hourly, daily, weekly, monthly, a time such as \"04:30\", or weekdays and a time such as \"Mon,Thu 04:30\""

func errSchedule(s string) error {
	return fmt.Errorf("%q is not a schedule ynhd understands: %s", s, scheduleForms)
}

// Next returns the first time after t that the schedule names.
func (sc Schedule) Next(t time.Time) time.Time {
	if sc.Hourly {
		return t.Truncate(time.Hour).Add(time.Hour) // local zones are whole hours apart here
	}
	y, m, d := t.Date()
	for i := 0; i < 400; i++ {
		day := time.Date(y, m, d+i, sc.Hour, sc.Minute, sc.Second, 0, t.Location())
		if !day.After(t) {
			continue
		}
		if sc.Monthly && day.Day() != 1 {
			continue
		}
		if sc.anyWeekday() && !sc.Weekdays[day.Weekday()] {
			continue
		}
		return day
	}
	return t.Add(24 * time.Hour) // unreachable for a parsed schedule
}

func (sc Schedule) anyWeekday() bool {
	for _, w := range sc.Weekdays {
		if w {
			return true
		}
	}
	return false
}

// UpdateDelay is the app's fixed share of its random delay: the same for
// an app at every check and across restarts, so that a restarted daemon
// does not move the check, and different apps spread over the delay.
func (a *App) UpdateDelay() time.Duration {
	if a.Update == nil || a.Update.RandomDelay == nil || a.Update.RandomDelay.Duration <= 0 {
		return 0
	}
	h := fnv.New64a()
	h.Write([]byte(a.Name))
	return time.Duration(h.Sum64() % uint64(a.Update.RandomDelay.Duration))
}

// update checks the [update] table.
func (v *validator) update(host Host) {
	a := v.app
	u := a.Update
	if u == nil {
		return
	}
	if !updatePolicies[u.Policy] {
		v.errf("update.policy", "unknown policy %q: use off, registry (follow the tag in its registry) or local (follow the tag in local storage)", u.Policy)
		return
	}
	if _, err := ParseSchedule(u.Schedule); err != nil {
		v.errf("update.schedule", "%v", err)
	}
	if d := u.RandomDelay; d != nil && (d.Duration < 0 || d.Duration > MaxRandomDelay) {
		v.errf("update.random_delay", "must be between 0 and %s", MaxRandomDelay)
	}
	if w := u.HealthWindow.Duration; w < 5*time.Second || w > MaxHealthWindow {
		v.errf("update.health_window", "must be between 5s and %s (the default is %s)", MaxHealthWindow, DefaultHealthWindow)
	}
	if u.KeepImages < 1 || u.KeepImages > MaxKeepImages {
		v.errf("update.keep_images", "must be between 1 and %d (the default is %d): a rollback needs the previous image", MaxKeepImages, DefaultKeepImages)
	}
	if u.Policy == "off" {
		return
	}
	switch {
	case host.System:
		v.errf("update.policy", "updates run in user mode only for now: set policy = \"off\" in system mode")
	case strings.Contains(a.Image, "@"):
		v.errf("update.policy", "the image is pinned by digest, so there is nothing to follow: remove the digest or set policy = \"off\"")
	case u.Policy == "registry" && a.Build != nil:
		v.errf("update.policy", "an image built from [build] is not in a registry: use policy = \"local\" to follow rebuilds, or \"off\"")
	case u.Policy == "registry" && isShortNameRef(a.Image):
		v.errf("update.policy", "%q is a short name; write the registry and the tag (e.g. docker.io/library/nginx:1) so that ynhd knows where to look", a.Image)
	case a.Pull == "always" || a.Pull == "newer":
		v.errf("update.policy", "pull = %q makes every start pull the tag, which would undo a rollback: set pull = \"missing\" (the default) with updates", a.Pull)
	}
}

func isShortNameRef(ref string) bool {
	short, _ := CheckImageRef(ref)
	return short
}
