package decl

import (
	"fmt"
	"strings"
)

// capabilities are the Linux capability names podman accepts, without the
// CAP_ prefix.
var capabilities = set(
	"AUDIT_CONTROL", "AUDIT_READ", "AUDIT_WRITE", "BLOCK_SUSPEND", "BPF",
	"CHECKPOINT_RESTORE", "CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER",
	"FSETID", "IPC_LOCK", "IPC_OWNER", "KILL", "LEASE", "LINUX_IMMUTABLE",
	"MAC_ADMIN", "MAC_OVERRIDE", "MKNOD", "NET_ADMIN", "NET_BIND_SERVICE",
	"NET_BROADCAST", "NET_RAW", "PERFMON", "SETFCAP", "SETGID", "SETPCAP",
	"SETUID", "SYSLOG", "SYS_ADMIN", "SYS_BOOT", "SYS_CHROOT", "SYS_MODULE",
	"SYS_NICE", "SYS_PACCT", "SYS_PTRACE", "SYS_RAWIO", "SYS_RESOURCE",
	"SYS_TIME", "SYS_TTY_CONFIG", "WAKE_ALARM",
)

// NormalizeCap returns the canonical CAP_-prefixed upper-case name of a
// capability given as net_admin, NET_ADMIN or CAP_NET_ADMIN; "ALL" stays ALL.
func NormalizeCap(c string) (string, error) {
	u := strings.TrimPrefix(strings.ToUpper(c), "CAP_")
	if u == "ALL" {
		return "ALL", nil
	}
	if capabilities[u] {
		return "CAP_" + u, nil
	}
	best, bestD := "", 3
	for name := range capabilities {
		if len(u) > maxSuggestLen {
			break // no typo of a known name
		}
		if d := editDistance(u, name); d < bestD || (d == bestD && name < best) {
			best, bestD = name, d
		}
	}
	if best != "" {
		return "", fmt.Errorf("unknown capability %q; did you mean %q?", c, "CAP_"+best)
	}
	return "", fmt.Errorf("unknown capability %q: use a name from capabilities(7) such as CAP_NET_ADMIN, or ALL", c)
}
