package podman

import (
	"slices"
	"strconv"
)

// Argv is an argument vector kept in one byte buffer: argument i is
// buf[ends[i-1]:ends[i]]. Building one allocates only when the buffer
// grows, and a caller that renders many apps can reuse one Argv (Reset)
// so that the arguments of `podman run` cost no allocation at all. The
// zero value is an empty vector.
type Argv struct {
	buf  []byte
	ends []int
	keys []string // scratch for sortedKeys
}

// Reset empties v and keeps its memory.
func (v *Argv) Reset() {
	v.buf, v.ends = v.buf[:0], v.ends[:0]
}

// Len is the number of arguments.
func (v *Argv) Len() int { return len(v.ends) }

// Arg returns argument i. The bytes belong to v: they stay valid until v
// is changed.
func (v *Argv) Arg(i int) []byte {
	start := 0
	if i > 0 {
		start = v.ends[i-1]
	}
	return v.buf[start:v.ends[i]]
}

// Strings returns the arguments as strings, all of them slices of one
// string.
func (v *Argv) Strings() []string {
	all := string(v.buf)
	out := make([]string, len(v.ends))
	start := 0
	for i, end := range v.ends {
		out[i] = all[start:end]
		start = end
	}
	return out
}

// add appends one argument, the concatenation of parts.
func (v *Argv) add(parts ...string) {
	for _, p := range parts {
		v.buf = append(v.buf, p...)
	}
	v.end()
}

// addAll appends each of ss as an argument of its own.
func (v *Argv) addAll(ss []string) {
	for _, s := range ss {
		v.add(s)
	}
}

// addInt appends the argument flag followed by n in decimal.
func (v *Argv) addInt(flag string, n int) {
	v.buf = append(v.buf, flag...)
	v.buf = strconv.AppendInt(v.buf, int64(n), 10)
	v.end()
}

// end ends the argument whose bytes were appended to buf since the last
// one.
func (v *Argv) end() { v.ends = append(v.ends, len(v.buf)) }

// sortedKeys returns m's keys in order, in v's scratch slice: the result
// is valid until the next call.
func (v *Argv) sortedKeys(m map[string]string) []string {
	v.keys = v.keys[:0]
	for k := range m {
		v.keys = append(v.keys, k)
	}
	slices.Sort(v.keys)
	return v.keys
}
