package sdnotify

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"
)

type recorder struct {
	mu   sync.Mutex
	sent []string
}

func (r *recorder) send(s string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sent = append(r.sent, s)
}

func (r *recorder) all() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.sent...)
}

func TestMessages(t *testing.T) {
	r := &recorder{}
	n := &Notifier{send: r.send, watchdog: func() time.Duration { return 0 }}
	n.Ready()
	n.Status("2 apps: 1 running,\n1 failing")
	n.Reloading()
	n.Stopping()
	got := r.all()
	if got[0] != "READY=1" || got[1] != "STATUS=2 apps: 1 running, 1 failing" || got[3] != "STOPPING=1" {
		t.Errorf("sent %q", got)
	}
	if lines := strings.Split(got[2], "\n"); len(lines) != 2 || lines[0] != "RELOADING=1" ||
		!strings.HasPrefix(lines[1], "MONOTONIC_USEC=") || strings.Count(lines[1], "=") != 1 {
		t.Errorf("reloading sent %q", got[2])
	}
}

func TestWatchdog(t *testing.T) {
	r := &recorder{}
	healthy := true
	var mu sync.Mutex
	n := &Notifier{send: r.send, watchdog: func() time.Duration { return 20 * time.Millisecond }}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		n.RunWatchdog(ctx, func() bool { mu.Lock(); defer mu.Unlock(); return healthy })
		close(done)
	}()
	time.Sleep(100 * time.Millisecond)
	mu.Lock()
	healthy = false
	mu.Unlock()
	fed := len(r.all())
	time.Sleep(60 * time.Millisecond)
	cancel()
	<-done
	if fed < 2 {
		t.Errorf("fed %d times while healthy", fed)
	}
	if after := len(r.all()); after > fed+1 {
		t.Errorf("fed %d more times while unhealthy", after-fed)
	}
	// Without WatchdogSec it returns at once.
	n.watchdog = func() time.Duration { return 0 }
	n.RunWatchdog(context.Background(), func() bool { return true })
}
