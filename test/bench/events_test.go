package bench

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"
)

// event is one container event as podman reports it, with podman's own
// time: when podman made the event, not when the benchmark read it.
type event struct {
	Name, Status string
	Time         time.Time
}

// podmanEvent is a line of `podman events --format json`. podman 4.3
// writes Time as an RFC 3339 string; later versions write it as Unix
// seconds beside timeNano.
type podmanEvent struct {
	Name     string          `json:"Name"`
	Status   string          `json:"Status"`
	Type     string          `json:"Type"`
	Time     json.RawMessage `json:"Time"`
	TimeNano int64           `json:"timeNano"`
}

func (p podmanEvent) time() (time.Time, error) {
	if p.TimeNano != 0 {
		return time.Unix(0, p.TimeNano), nil
	}
	var s string
	if err := json.Unmarshal(p.Time, &s); err == nil {
		return time.Parse(time.RFC3339Nano, s)
	}
	var sec int64
	if err := json.Unmarshal(p.Time, &sec); err != nil {
		return time.Time{}, fmt.Errorf("event time %s", p.Time)
	}
	return time.Unix(sec, 0), nil
}

// eventLog follows one `podman events` stream, started before the first
// measurement, and keeps every container event. Measurements wait on it;
// the figure is the event's own time minus the time of the action, so
// neither the stream's delivery delay nor any polling is in a figure.
type eventLog struct {
	cmd *exec.Cmd

	mu      sync.Mutex
	events  []event
	changed chan struct{} // closed and replaced at every new event
	err     error         // why the stream ended
}

func startEvents() (*eventLog, error) {
	l := &eventLog{changed: make(chan struct{})}
	l.cmd = exec.Command("podman", "events", "--format", "json", "--filter", "type=container")
	out, err := l.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	var stderr bytes.Buffer
	l.cmd.Stderr = &stderr
	if err := l.cmd.Start(); err != nil {
		return nil, err
	}
	go func() {
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 64<<10), 4<<20)
		for sc.Scan() {
			var pe podmanEvent
			if json.Unmarshal(sc.Bytes(), &pe) != nil || pe.Name == "" {
				continue
			}
			t, err := pe.time()
			if err != nil {
				continue
			}
			l.add(event{Name: pe.Name, Status: strings.ToLower(pe.Status), Time: t})
		}
		err := l.cmd.Wait()
		l.mu.Lock()
		l.err = fmt.Errorf("podman events ended: %v: %s", err, strings.TrimSpace(stderr.String()))
		close(l.changed)
		l.changed = make(chan struct{})
		l.mu.Unlock()
	}()
	return l, nil
}

func (l *eventLog) add(e event) {
	l.mu.Lock()
	l.events = append(l.events, e)
	close(l.changed)
	l.changed = make(chan struct{})
	l.mu.Unlock()
}

func (l *eventLog) stop() {
	if l.cmd.Process != nil {
		_ = l.cmd.Process.Kill()
	}
}

// waitAll waits until each of names has had an event with status at or
// after since, and returns the time of the last of those first events.
func (l *eventLog) waitAll(names []string, status string, since time.Time, timeout time.Duration) (time.Time, error) {
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	deadline := time.After(timeout)
	for {
		l.mu.Lock()
		seen := map[string]time.Time{}
		for _, e := range l.events {
			if want[e.Name] && e.Status == status && !e.Time.Before(since) {
				if _, ok := seen[e.Name]; !ok {
					seen[e.Name] = e.Time
				}
			}
		}
		ch, err := l.changed, l.err
		l.mu.Unlock()
		if len(seen) == len(want) {
			var last time.Time
			for _, t := range seen {
				if t.After(last) {
					last = t
				}
			}
			return last, nil
		}
		if err != nil {
			return time.Time{}, err
		}
		select {
		case <-ch:
		case <-deadline:
			return time.Time{}, fmt.Errorf("%d of %d containers had a %q event within %v", len(seen), len(want), status, timeout)
		}
	}
}

// wait is waitAll for one container.
func (l *eventLog) wait(name, status string, since time.Time, timeout time.Duration) (time.Time, error) {
	return l.waitAll([]string{name}, status, since, timeout)
}

// fileLog records when files of a directory are removed (fsnotify, so
// again the time of the event, not of a poll).
type fileLog struct {
	w       *fsnotify.Watcher
	mu      sync.Mutex
	gone    map[string]time.Time // base name -> last removal
	changed chan struct{}
}

func watchRemovals(dir string) (*fileLog, error) {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, err
	}
	if err := w.Add(dir); err != nil {
		w.Close()
		return nil, err
	}
	f := &fileLog{w: w, gone: map[string]time.Time{}, changed: make(chan struct{})}
	go func() {
		for ev := range w.Events {
			if ev.Op&(fsnotify.Remove|fsnotify.Rename) == 0 {
				continue
			}
			now := time.Now()
			f.mu.Lock()
			f.gone[baseName(ev.Name)] = now
			close(f.changed)
			f.changed = make(chan struct{})
			f.mu.Unlock()
		}
	}()
	go func() {
		for range w.Errors {
		}
	}()
	return f, nil
}

func baseName(p string) string { return p[strings.LastIndexByte(p, '/')+1:] }

// waitAll waits until every one of names was removed at or after since
// and returns the time of the last removal.
func (f *fileLog) waitAll(names []string, since time.Time, timeout time.Duration) (time.Time, error) {
	deadline := time.After(timeout)
	for {
		f.mu.Lock()
		var last time.Time
		n := 0
		for _, name := range names {
			if t, ok := f.gone[name]; ok && !t.Before(since) {
				n++
				if t.After(last) {
					last = t
				}
			}
		}
		ch := f.changed
		f.mu.Unlock()
		if n == len(names) {
			return last, nil
		}
		select {
		case <-ch:
		case <-deadline:
			return time.Time{}, fmt.Errorf("%d of %d unit files removed within %v", n, len(names), timeout)
		}
	}
}
