package sysuser

import (
	"bufio"
	"bytes"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// span is one NAME:START:COUNT range, as [start, end).
type span struct{ start, end uint64 }

// ranges reads every range of the given subuid/subgid files; lines that
// are not NAME:START:COUNT are skipped.
func ranges(files ...[]byte) []span {
	var out []span
	for _, file := range files {
		s := bufio.NewScanner(bytes.NewReader(file))
		for s.Scan() {
			f := strings.Split(strings.TrimSpace(s.Text()), ":")
			if len(f) != 3 {
				continue
			}
			start, err1 := strconv.ParseUint(f[1], 10, 64)
			count, err2 := strconv.ParseUint(f[2], 10, 64)
			if err1 == nil && err2 == nil && count > 0 {
				out = append(out, span{start, start + count})
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].start < out[j].start })
	return out
}

// FreeRange returns the lowest start, at least FirstID, of size ids that
// overlap no range in the given subuid/subgid files and end at or below
// LastID. A range such as podman's containers:2147483647:2147483648 up to
// the 32-bit limit is thus passed over for a gap below it.
func FreeRange(size uint64, files ...[]byte) (uint64, error) {
	next := uint64(FirstID)
	for _, r := range ranges(files...) {
		if r.start >= next+size {
			break // the gap before r fits
		}
		next = max(next, r.end)
	}
	if next+size-1 > LastID {
		return 0, fmt.Errorf("no free range of %d subordinate ids between %d and %d in /etc/subuid and /etc/subgid: remove unused entries", size, FirstID, LastID)
	}
	return next, nil
}
