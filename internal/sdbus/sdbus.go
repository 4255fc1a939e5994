// Package sdbus connects ynhd to a systemd manager over D-Bus and keeps it
// connected. A Bus dials the manager's private socket first
// ($XDG_RUNTIME_DIR/systemd/private for a user manager,
// /run/systemd/private for the system manager), which does not depend on a
// bus daemon, and falls back to the session or system bus. When the
// connection is lost (the manager re-executed, the bus restarted) the next
// call dials again, at most once per backoff step, and a subscriber given to
// Subscribe is attached to every new connection.
//
// Every call gets a deadline (CallTimeout unless the caller's is sooner):
// a manager that does not answer holds a call back for that long, never
// for ever. Job methods return once the job is queued; its result arrives
// on the caller's channel, or never if the connection is lost first, so
// callers bound their wait for it too.
package sdbus

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	sddbus "github.com/coreos/go-systemd/v22/dbus"
	"github.com/godbus/dbus/v5"
)

// CallTimeout bounds one D-Bus call whose caller gave no sooner deadline.
const CallTimeout = 30 * time.Second

// Redial backoff after a failed dial: it doubles from redialMin to
// redialMax.
const (
	redialMin = 500 * time.Millisecond
	redialMax = 15 * time.Second
)

// ErrNotConnected is returned while the manager cannot be reached and the
// next dial is not due yet.
var ErrNotConnected = errors.New("not connected to the systemd manager")

// Bus is a self-healing connection to one systemd manager. Its methods are
// those of go-systemd's *dbus.Conn that ynhd uses, and are safe for
// concurrent use.
type Bus struct {
	system bool
	dial   func(ctx context.Context) (*sddbus.Conn, string, error)

	mu      sync.Mutex
	conn    *sddbus.Conn
	via     string // which socket conn uses, for messages
	gen     int    // incremented at every new connection
	fails   int
	nextTry time.Time
	lastErr error
	sub     *subscriber
}

type subscriber struct {
	updates chan<- *sddbus.PropertiesUpdate
	errs    chan<- error
}

// New returns a Bus for the user manager of the calling user, or for the
// system manager. It does not dial; Connect does, and so does every call.
func New(system bool) *Bus {
	return &Bus{system: system, dial: func(ctx context.Context) (*sddbus.Conn, string, error) { return dial(ctx, system) }}
}

// Connect dials now and reports why it could not.
func (b *Bus) Connect(ctx context.Context) error {
	_, err := b.get(ctx)
	return err
}

// Via names the socket the current connection uses ("" when none).
func (b *Bus) Via() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.via
}

// Generation counts connections made so far; it changes when the
// connection was replaced.
func (b *Bus) Generation() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.gen
}

// Connected reports whether the current connection is up.
func (b *Bus) Connected() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.conn != nil && b.conn.Connected()
}

// Close closes the connection; later calls dial again.
func (b *Bus) Close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.conn != nil {
		b.conn.Close()
		b.conn = nil
	}
}

// Subscribe asks the manager for unit property changes on every
// connection, now and after each redial. updates and errs must be drained
// by the caller (go-systemd writes to them without blocking and logs when
// both are full).
func (b *Bus) Subscribe(updates chan<- *sddbus.PropertiesUpdate, errs chan<- error) error {
	b.mu.Lock()
	b.sub = &subscriber{updates, errs}
	c := b.conn
	b.mu.Unlock()
	if c == nil {
		return nil // attached at the next dial
	}
	return attach(c, b.sub)
}

func attach(c *sddbus.Conn, s *subscriber) error {
	if err := c.Subscribe(); err != nil {
		return err
	}
	c.SetPropertiesSubscriber(s.updates, s.errs)
	return nil
}

// get returns a live connection, dialling when the last one is gone and
// the backoff allows.
func (b *Bus) get(ctx context.Context) (*sddbus.Conn, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.conn != nil && b.conn.Connected() {
		return b.conn, nil
	}
	if b.conn != nil {
		b.conn.Close()
		b.conn = nil
		b.via = ""
	}
	if now := time.Now(); now.Before(b.nextTry) {
		return nil, fmt.Errorf("%w (last attempt: %v; next in %v)", ErrNotConnected, b.lastErr, b.nextTry.Sub(now).Round(time.Millisecond))
	}
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	c, via, err := b.dial(dctx)
	if err != nil {
		b.fails++
		wait := redialMin << min(b.fails-1, 5)
		b.nextTry, b.lastErr = time.Now().Add(min(wait, redialMax)), err
		return nil, err
	}
	b.conn, b.via, b.fails, b.nextTry, b.lastErr = c, via, 0, time.Time{}, nil
	b.gen++
	if b.sub == nil && via != "the session bus" && via != "the system bus" {
		// A direct connection gets job results (JobRemoved) only once
		// subscribed.
		_ = c.Subscribe()
	}
	if b.sub != nil {
		_ = attach(c, b.sub) // without signals the caller's timer still passes
	}
	return c, nil
}

// dial connects to the manager's private socket, else to the bus, giving
// up when ctx is done. The connection itself is made with a background
// context: godbus closes a connection when the context it was made with
// ends.
func dial(ctx context.Context, system bool) (*sddbus.Conn, string, error) {
	type result struct {
		c   *sddbus.Conn
		via string
		err error
	}
	ch := make(chan result, 1)
	go func() {
		c, via, err := dialNow(system)
		ch <- result{c, via, err}
	}()
	select {
	case r := <-ch:
		return r.c, r.via, r.err
	case <-ctx.Done():
		go func() { // a connection that comes too late is closed
			if r := <-ch; r.c != nil {
				r.c.Close()
			}
		}()
		return nil, "", fmt.Errorf("connecting to the systemd manager: %w", ctx.Err())
	}
}

func dialNow(system bool) (*sddbus.Conn, string, error) {
	bg := context.Background()
	private := "/run/systemd/private"
	if !system {
		run := os.Getenv("XDG_RUNTIME_DIR")
		if run == "" {
			run = "/run/user/" + strconv.Itoa(os.Getuid())
		}
		private = filepath.Join(run, "systemd", "private")
	}
	var errs []error
	if _, err := os.Stat(private); err == nil {
		c, err := sddbus.NewConnection(func() (*dbus.Conn, error) { return dialPrivate(private) })
		if err == nil {
			return c, private, nil
		}
		errs = append(errs, fmt.Errorf("%s: %w", private, err))
	}
	var c *sddbus.Conn
	var err error
	via := "the session bus"
	if system {
		via = "the system bus"
		c, err = sddbus.NewSystemConnectionContext(bg)
	} else {
		c, err = sddbus.NewUserConnectionContext(bg)
	}
	if err == nil {
		return c, via, nil
	}
	errs = append(errs, fmt.Errorf("%s: %w", via, err))
	return nil, "", errors.Join(errs...)
}

// dialPrivate opens a direct, authenticated connection to a manager's
// private socket (no Hello: there is no bus daemon).
func dialPrivate(path string) (*dbus.Conn, error) {
	conn, err := dbus.Dial("unix:path=" + path)
	if err != nil {
		return nil, err
	}
	if err := conn.Auth([]dbus.Auth{dbus.AuthExternal(strconv.Itoa(os.Getuid()))}); err != nil {
		conn.Close()
		return nil, err
	}
	return conn, nil
}

// bounded gives ctx the default deadline unless it has a sooner one.
func bounded(ctx context.Context) (context.Context, context.CancelFunc) {
	if d, ok := ctx.Deadline(); ok && time.Until(d) <= CallTimeout {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, CallTimeout)
}

// do runs one call on a live connection under a deadline.
func do[T any](b *Bus, ctx context.Context, f func(context.Context, *sddbus.Conn) (T, error)) (T, error) {
	var zero T
	ctx, cancel := bounded(ctx)
	defer cancel()
	c, err := b.get(ctx)
	if err != nil {
		return zero, err
	}
	v, err := f(ctx, c)
	if err != nil && !c.Connected() {
		err = fmt.Errorf("%w (the connection to the manager was lost; ynhd reconnects)", err)
	}
	return v, err
}

// ListUnitsByNamesContext is go-systemd's, with a deadline.
func (b *Bus) ListUnitsByNamesContext(ctx context.Context, units []string) ([]sddbus.UnitStatus, error) {
	return do(b, ctx, func(ctx context.Context, c *sddbus.Conn) ([]sddbus.UnitStatus, error) {
		return c.ListUnitsByNamesContext(ctx, units)
	})
}

// GetUnitPropertyContext is go-systemd's, with a deadline.
func (b *Bus) GetUnitPropertyContext(ctx context.Context, unit, property string) (*sddbus.Property, error) {
	return do(b, ctx, func(ctx context.Context, c *sddbus.Conn) (*sddbus.Property, error) {
		return c.GetUnitPropertyContext(ctx, unit, property)
	})
}

// GetUnitTypePropertyContext is go-systemd's, with a deadline.
func (b *Bus) GetUnitTypePropertyContext(ctx context.Context, unit, unitType, property string) (*sddbus.Property, error) {
	return do(b, ctx, func(ctx context.Context, c *sddbus.Conn) (*sddbus.Property, error) {
		return c.GetUnitTypePropertyContext(ctx, unit, unitType, property)
	})
}

// ReloadContext is go-systemd's, with a deadline.
func (b *Bus) ReloadContext(ctx context.Context) error {
	_, err := do(b, ctx, func(ctx context.Context, c *sddbus.Conn) (struct{}, error) {
		return struct{}{}, c.ReloadContext(ctx)
	})
	return err
}

// StartUnitContext is go-systemd's, with a deadline on queueing the job.
func (b *Bus) StartUnitContext(ctx context.Context, name, mode string, ch chan<- string) (int, error) {
	return do(b, ctx, func(ctx context.Context, c *sddbus.Conn) (int, error) { return c.StartUnitContext(ctx, name, mode, ch) })
}

// StopUnitContext is go-systemd's, with a deadline on queueing the job.
func (b *Bus) StopUnitContext(ctx context.Context, name, mode string, ch chan<- string) (int, error) {
	return do(b, ctx, func(ctx context.Context, c *sddbus.Conn) (int, error) { return c.StopUnitContext(ctx, name, mode, ch) })
}

// RestartUnitContext is go-systemd's, with a deadline on queueing the job.
func (b *Bus) RestartUnitContext(ctx context.Context, name, mode string, ch chan<- string) (int, error) {
	return do(b, ctx, func(ctx context.Context, c *sddbus.Conn) (int, error) {
		return c.RestartUnitContext(ctx, name, mode, ch)
	})
}

// ResetFailedUnitContext is go-systemd's, with a deadline.
func (b *Bus) ResetFailedUnitContext(ctx context.Context, name string) error {
	_, err := do(b, ctx, func(ctx context.Context, c *sddbus.Conn) (struct{}, error) {
		return struct{}{}, c.ResetFailedUnitContext(ctx, name)
	})
	return err
}

// EnableUnitFilesContext is go-systemd's, with a deadline.
func (b *Bus) EnableUnitFilesContext(ctx context.Context, files []string, runtime, force bool) (bool, []sddbus.EnableUnitFileChange, error) {
	type res struct {
		ok bool
		ch []sddbus.EnableUnitFileChange
	}
	r, err := do(b, ctx, func(ctx context.Context, c *sddbus.Conn) (res, error) {
		ok, ch, err := c.EnableUnitFilesContext(ctx, files, runtime, force)
		return res{ok, ch}, err
	})
	return r.ok, r.ch, err
}

// DisableUnitFilesContext is go-systemd's, with a deadline.
func (b *Bus) DisableUnitFilesContext(ctx context.Context, files []string, runtime bool) ([]sddbus.DisableUnitFileChange, error) {
	return do(b, ctx, func(ctx context.Context, c *sddbus.Conn) ([]sddbus.DisableUnitFileChange, error) {
		return c.DisableUnitFilesContext(ctx, files, runtime)
	})
}

// GetUnitPropertiesContext is go-systemd's, with a deadline.
func (b *Bus) GetUnitPropertiesContext(ctx context.Context, unit string) (map[string]any, error) {
	return do(b, ctx, func(ctx context.Context, c *sddbus.Conn) (map[string]any, error) {
		return c.GetUnitPropertiesContext(ctx, unit)
	})
}

// UnitPath returns the manager's unit search path (its UnitPath
// property), in the order the manager looks.
func (b *Bus) UnitPath(ctx context.Context) ([]string, error) {
	s, err := do(b, ctx, func(_ context.Context, c *sddbus.Conn) (string, error) {
		return c.GetManagerProperty("UnitPath")
	})
	if err != nil {
		return nil, err
	}
	return parseStrings(s)
}

// parseStrings reads a D-Bus string array in GVariant text form, such as
// ["/etc/systemd/user", "/usr/lib/systemd/user"].
func parseStrings(s string) ([]string, error) {
	s = strings.TrimSpace(s)
	s = strings.TrimPrefix(s, "@as ")
	if !strings.HasPrefix(s, "[") || !strings.HasSuffix(s, "]") {
		return nil, fmt.Errorf("not a string array: %q", s)
	}
	var out []string
	rest := strings.TrimSpace(s[1 : len(s)-1])
	for rest != "" {
		q, err := strconv.QuotedPrefix(rest)
		if err != nil {
			return nil, fmt.Errorf("not a string array: %q", s)
		}
		v, err := strconv.Unquote(q)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
		rest = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(rest[len(q):]), ","))
	}
	return out, nil
}
