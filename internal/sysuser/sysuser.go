// Package sysuser creates the static system users that system-mode apps
// needing many ids run as (see decl.RouteStatic): a system account with no
// login shell, and a range of subordinate uids and gids in /etc/subuid and
// /etc/subgid from which rootless podman builds the container's user
// namespace.
//
// Accounts are made with the shadow tools (useradd, usermod), which lock
// the files they change. ynhd never removes such a user: files in the app's
// state directory and volumes belong to it and its ranges.
package sysuser

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
)

// RangeSize is the number of subordinate ids each user gets: enough for any
// Debian or Fedora image (nobody is 65534).
const RangeSize = 65536

// FirstID is where ranges start when none exist yet (SUB_UID_MIN in
// login.defs).
const FirstID = 100000

// Users looks up and creates static system users. The zero value uses the
// real files and tools.
type Users struct {
	// Passwd, SubUID and SubGID are the files read; empty means the usual
	// /etc paths.
	Passwd, SubUID, SubGID string
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

// Ready reports whether name is a local user with both ranges. It reads the
// files, not NSS: a DynamicUser of the same name (nss-systemd) does not
// count.
func (u *Users) Ready(name string) (bool, error) {
	files, err := u.read()
	if err != nil {
		return false, err
	}
	return hasEntry(files[0], name) && hasEntry(files[1], name) && hasEntry(files[2], name), nil
}

// Ensure creates the user if it is missing, then gives it whatever of the
// two ranges it lacks, starting after every range already allocated.
func (u *Users) Ensure(ctx context.Context, name string) error {
	u.mu.Lock()
	defer u.mu.Unlock()
	files, err := u.read()
	if err != nil {
		return err
	}
	if !hasEntry(files[0], name) {
		if err := u.run(ctx, "useradd", "--system", "--user-group", "--no-create-home",
			"--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin",
			"--comment", "ynhd app (many-id system user)", name); err != nil {
			return fmt.Errorf("creating system user %s: %w", name, err)
		}
	}
	var args []string
	start := NextFree(files[1], files[2])
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

// hasEntry reports whether a passwd, subuid or subgid file has a line for
// name.
func hasEntry(file []byte, name string) bool {
	s := bufio.NewScanner(bytes.NewReader(file))
	for s.Scan() {
		if f, _, ok := strings.Cut(s.Text(), ":"); ok && f == name {
			return true
		}
	}
	return false
}

// NextFree returns the first id after every NAME:START:COUNT range in the
// given subuid/subgid files, and at least FirstID.
func NextFree(files ...[]byte) int {
	n := FirstID
	for _, file := range files {
		s := bufio.NewScanner(bytes.NewReader(file))
		for s.Scan() {
			f := strings.Split(strings.TrimSpace(s.Text()), ":")
			if len(f) != 3 {
				continue
			}
			start, err1 := strconv.Atoi(f[1])
			count, err2 := strconv.Atoi(f[2])
			if err1 == nil && err2 == nil && start+count > n {
				n = start + count
			}
		}
	}
	return n
}
