package decl

// MaxKeepSnapshots bounds keep_snapshots: each snapshot is a copy of the
// container's changes since its image.
const MaxKeepSnapshots = 100

// persistent checks persistent and keep_snapshots.
func (v *validator) persistent(host Host) {
	a := v.app
	if !a.Persistent {
		if a.KeepSnapshots != 0 {
			v.warnf("keep_snapshots", "applies only with persistent = true; it is ignored")
		}
		return
	}
	if host.System {
		v.errf("persistent", "is not supported in system mode: the container would have to be created as the app's own user outside its unit; run the app under a user manager (user mode, with lingering) to keep its container")
	}
	if a.KeepSnapshots < 1 || a.KeepSnapshots > MaxKeepSnapshots {
		v.errf("keep_snapshots", "must be between 1 and %d (the default is %d)", MaxKeepSnapshots, DefaultKeepSnapshots)
	}
}
