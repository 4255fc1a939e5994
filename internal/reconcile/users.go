package reconcile

import (
	"context"
	"fmt"
)

// Users creates and looks up the static system users that system-mode apps
// needing many ids run as (see decl.RouteStatic); *sysuser.Users satisfies
// it.
type Users interface {
	// Ready reports whether the user exists with subordinate uid and gid
	// ranges.
	Ready(name string) (bool, error)
	// Ensure creates what of the user and its ranges is missing.
	Ensure(ctx context.Context, name string) error
}

// observeUsers records which of the desired static users are ready. With
// no Users (user mode) every app's User is empty and nothing is asked.
func observeUsers(u Users, w *World, desired []Desired) error {
	w.Users = map[string]bool{}
	for _, d := range desired {
		if d.User == "" || u == nil {
			continue
		}
		ok, err := u.Ready(d.User)
		if err != nil {
			return fmt.Errorf("looking up system user %s: %w", d.User, err)
		}
		w.Users[d.User] = ok
	}
	return nil
}
