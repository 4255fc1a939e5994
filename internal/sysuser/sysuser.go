// Package sysuser creates the static system users that system-mode apps
// needing many ids run as (see decl.RouteStatic): a system account with no
// login shell, and a range of subordinate uids and gids in /etc/subuid and
// /etc/subgid from which rootless podman builds the container's user
// namespace.
//
// Accounts are made with the shadow tools (useradd, usermod, userdel),
// which lock the files they change. Choosing a free range and claiming it
// is done under an flock on LockFile that every ynhd process takes, with
// the files re-read under it, so the daemon and `ynhd apply --system`
// running at once never hand out one range twice. A range never overlaps
// any existing one (podman's own containers: entry included) and ends
// within 32-bit ids. Each account carries ynhd's record of the app it
// belongs to in its comment (GECOS) field, "ynhd app NAME"; an account
// without it is never taken over. ynhd never removes a user it finished
// creating: files in the app's state directory and volumes belong to it
// and its ranges.
package sysuser

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/ynhd/ynhd/internal/decl"
)

// RangeSize is the number of subordinate ids each user gets: enough for any
// Debian or Fedora image (nobody is 65534).
const RangeSize = 65536

// FirstID is where ranges start when none exist yet (SUB_UID_MIN in
// login.defs).
const FirstID = 100000

// LastID is the highest id a range may hold: ids are 32-bit and
// 4294967295 is (uid_t)-1, which means "no id".
const LastID = 1<<32 - 2

// DefaultLockFile is the file every ynhd process locks while it allocates.
const DefaultLockFile = "/run/ynhd/subid.lock"

// commentPrefix starts the comment of every account ynhd makes; the app's
// name follows.
const commentPrefix = "ynhd app "

// legacyComment is what earlier versions wrote, without the app's name.
// Such an account is adopted and its comment rewritten.
const legacyComment = "ynhd app (many-id system user)"

// Users looks up and creates static system users. The zero value uses the
// real files and tools.
type Users struct {
	// Passwd, SubUID and SubGID are the files read; empty means the usual
	// /etc paths.
	Passwd, SubUID, SubGID string
	// LockFile is flocked while ranges are chosen and claimed; empty means
	// DefaultLockFile. Its directory is created if missing and must be
	// owned by root and not writable by others.
	LockFile string
	// Run runs a shadow tool; nil runs it with os/exec.
	Run func(ctx context.Context, name string, args ...string) error

	mu sync.Mutex
}

func (u *Users) path(p, def string) string {
	if p == "" {
		return def
	}
	return p
}

// Ready reports whether name is a local user that ynhd made for the app
// whose user it is, with both ranges. It reads the files, not NSS: a
// DynamicUser of the same name (nss-systemd) does not count.
func (u *Users) Ready(name string) (bool, error) {
	files, err := u.read()
	if err != nil {
		return false, err
	}
	app, ok := recordedApp(files[0], name)
	return ok && decl.SystemUserName(app) == name && hasEntry(files[1], name) && hasEntry(files[2], name), nil
}

// Ensure is EnsureApp for the app whose user name is name, when the name
// tells it (a name not shortened with a hash).
func (u *Users) Ensure(ctx context.Context, name string) error {
	app := strings.TrimPrefix(name, "ynhd-")
	if decl.SystemUserName(app) != name {
		return fmt.Errorf("cannot tell which app system user %s belongs to: its name is shortened; this is a bug in ynhd", name)
	}
	return u.EnsureApp(ctx, name, app)
}

// EnsureApp makes name the static user of app: it creates the account if
// it is missing, then gives it whatever of the two ranges it lacks. An
// existing account is used only if its comment says ynhd made it for app.
// If a step fails after the account was created here, the account is
// removed again, so no half-made user is left behind.
func (u *Users) EnsureApp(ctx context.Context, name, app string) (err error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	unlock, err := u.lock(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	files, err := u.read()
	if err != nil {
		return err
	}
	created, err := u.account(ctx, files[0], name, app)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil && created {
			if uerr := u.run(context.WithoutCancel(ctx), "userdel", name); uerr != nil {
				err = fmt.Errorf("%w; removing the half-made user also failed: %v (remove it: userdel %s)", err, uerr, name)
			}
		}
	}()
	var args []string
	start, err := FreeRange(RangeSize, files[1], files[2])
	if err != nil {
		return err
	}
	span := fmt.Sprintf("%d-%d", start, start+RangeSize-1)
	if !hasEntry(files[1], name) {
		args = append(args, "--add-subuids", span)
	}
	if !hasEntry(files[2], name) {
		args = append(args, "--add-subgids", span)
	}
	if len(args) == 0 {
		return nil
	}
	if err := u.run(ctx, "usermod", append(args, name)...); err != nil {
		return fmt.Errorf("giving %s subordinate ids %s: %w", name, span, err)
	}
	return nil
}

// account makes sure name exists and is app's, creating it if needed; it
// reports whether it created it.
func (u *Users) account(ctx context.Context, passwd []byte, name, app string) (bool, error) {
	f, ok := entry(passwd, name)
	if !ok {
		if err := u.run(ctx, "useradd", "--system", "--user-group", "--no-create-home",
			"--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin",
			"--comment", commentPrefix+app, name); err != nil {
			return false, fmt.Errorf("creating system user %s: %w", name, err)
		}
		return true, nil
	}
	switch comment := field(f, 4); comment {
	case commentPrefix + app:
		return false, nil
	case legacyComment:
		if err := u.run(ctx, "usermod", "--comment", commentPrefix+app, name); err != nil {
			return false, fmt.Errorf("recording app %s on system user %s: %w", app, name, err)
		}
		return false, nil
	default:
		return false, fmt.Errorf("system user %s exists but ynhd did not make it for app %s (its comment is %q, not %q): ynhd never takes over an account it did not make; if it is a leftover, remove it (userdel %s), otherwise rename the app",
			name, app, comment, commentPrefix+app, name)
	}
}

// lock takes the flock shared by every ynhd process, waiting for it until
// ctx ends.
func (u *Users) lock(ctx context.Context) (func(), error) {
	p := u.path(u.LockFile, DefaultLockFile)
	dir := filepath.Dir(p)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	if st, err := os.Stat(dir); err != nil {
		return nil, err
	} else if err := decl.CheckTrusted(dir, st); err != nil {
		return nil, fmt.Errorf("lock for subordinate ids: %w", err)
	}
	f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock for subordinate ids: %w", err)
	}
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() { f.Close() }, nil // closing releases the lock
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("locking %s: %w", p, err)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("waiting for %s, held by another ynhd: %w", p, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func (u *Users) read() ([3][]byte, error) {
	var out [3][]byte
	for i, p := range []string{u.path(u.Passwd, "/etc/passwd"), u.path(u.SubUID, "/etc/subuid"), u.path(u.SubGID, "/etc/subgid")} {
		b, err := os.ReadFile(p)
		if err != nil && !os.IsNotExist(err) {
			return out, err
		}
		out[i] = b
	}
	return out, nil
}

func (u *Users) run(ctx context.Context, name string, args ...string) error {
	if u.Run != nil {
		return u.Run(ctx, name, args...)
	}
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %w: %s", name, err, bytes.TrimSpace(out))
	}
	return nil
}

// entry returns the colon-separated fields of name's line in a passwd,
// subuid or subgid file.
func entry(file []byte, name string) ([]string, bool) {
	s := bufio.NewScanner(bytes.NewReader(file))
	for s.Scan() {
		if f := strings.Split(s.Text(), ":"); len(f) > 1 && f[0] == name {
			return f, true
		}
	}
	return nil, false
}

func field(f []string, i int) string {
	if i < len(f) {
		return f[i]
	}
	return ""
}

// hasEntry reports whether a passwd, subuid or subgid file has a line for
// name.
func hasEntry(file []byte, name string) bool {
	_, ok := entry(file, name)
	return ok
}

// recordedApp returns the app named in the comment of name's account, if
// ynhd made it.
func recordedApp(passwd []byte, name string) (string, bool) {
	f, ok := entry(passwd, name)
	if !ok {
		return "", false
	}
	app, ok := strings.CutPrefix(field(f, 4), commentPrefix)
	return app, ok && !strings.HasPrefix(app, "(")
}
