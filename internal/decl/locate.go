package decl

import (
	"regexp"
	"strconv"
	"strings"
	"sync"
)

// Pos is a 1-based line and column in a declaration file.
type Pos struct{ Line, Col int }

// positions maps key paths (ports[0].host_port, env.FOO) to where they are
// written. The TOML decoder does not expose key positions, so a small
// structural scanner records them; it understands tables, arrays of tables,
// dotted and quoted keys, inline tables, multi-line arrays and every string
// form, and gives up quietly (fewer positions) on anything else. It runs only
// on input the TOML decoder already accepted, whose nesting checkShape has
// bounded, and it is linear in its input: recorded paths stop at
// pathBudget bytes in all, so no input makes it build ever longer paths.
//
// The scan runs on first use: a declaration without problems never needs
// a position, so it never pays for the scan.
type positions struct {
	// data is the document to scan on first use (nil: nothing to scan).
	// Diagnostics may be read from more than one goroutine: once guards
	// the scan.
	once  sync.Once
	data  []byte
	at    map[string]Pos
	order []string
	bytes int
	// byBare maps a path without array indexes to the recorded paths,
	// in file order; built on first use by matching.
	byBare map[string][]string
	// underBare maps each proper prefix of a path without array indexes
	// (a table written only as part of a longer name, such as a in
	// [a.b] or a.b = 1) to the first recorded path below it; built on
	// first use by firstUnder.
	underBare map[string]string
}

// pathBudget bounds the bytes of all recorded paths together: far more
// than any real declaration needs (a few KiB), and a fixed cost for a
// hostile one.
const pathBudget = 4 << 20

// ensure scans the document once, on first use.
func (p *positions) ensure() {
	p.once.Do(func() {
		if p.data == nil {
			return
		}
		data := p.data
		p.data = nil
		s := scan(data)
		p.at, p.order, p.bytes, p.byBare = s.at, s.order, s.bytes, nil
	})
}

func (p *positions) record(path string, pos Pos) {
	if _, ok := p.at[path]; ok || p.bytes+len(path) > pathBudget {
		return
	}
	p.bytes += len(path)
	p.at[path] = pos
	p.order = append(p.order, path)
}

var indexRE = regexp.MustCompile(`\[\d+\]`)

// lookup returns the position of path, or of its nearest recorded parent.
func (p *positions) lookup(path string) Pos {
	p.ensure()
	for path != "" {
		if pos, ok := p.at[path]; ok {
			return pos
		}
		i := strings.LastIndexAny(path, ".[")
		if i < 0 {
			break
		}
		path = path[:i]
	}
	return Pos{}
}

// matching returns the recorded paths that equal path once array indexes are
// removed, in file order.
func (p *positions) matching(path string) []string {
	p.ensure()
	if p.byBare == nil {
		p.byBare = map[string][]string{}
		for _, k := range p.order {
			bare := indexRE.ReplaceAllString(k, "")
			p.byBare[bare] = append(p.byBare[bare], k)
		}
	}
	var out []string
	for _, k := range p.byBare[path] {
		// Elements of an array value (key[0]) are not keys of their own.
		if !strings.HasSuffix(k, "]") {
			out = append(out, k)
		}
	}
	if len(out) == 0 { // an unknown array of tables: its headers
		out = p.byBare[path]
	}
	return out
}

// firstUnder returns the first recorded path, in file order, below the
// path without array indexes bare: where a table that is only part of
// longer names is first written.
func (p *positions) firstUnder(bare string) (string, bool) {
	p.ensure()
	if p.underBare == nil {
		p.underBare = map[string]string{}
		for _, k := range p.order {
			b := indexRE.ReplaceAllString(k, "")
			for i := 0; i < len(b); i++ {
				if b[i] == '.' {
					if _, ok := p.underBare[b[:i]]; !ok {
						p.underBare[b[:i]] = k
					}
				}
			}
		}
	}
	k, ok := p.underBare[bare]
	return k, ok
}

// atLine returns the first recorded path on line whose last key is key.
func (p *positions) atLine(line int, key string) (string, Pos, bool) {
	p.ensure()
	for _, k := range p.order {
		if pos := p.at[k]; pos.Line == line && (k == key || strings.HasSuffix(k, "."+key) || indexRE.ReplaceAllString(k, "") == key) {
			return k, pos, true
		}
	}
	return "", Pos{}, false
}

type scanner struct {
	src       []rune
	i         int
	line, col int
	pos       positions
	arrays    map[string]int // array-of-tables counters
}

// scanPositions returns the positions of data's keys, scanned on first
// use.
func scanPositions(data []byte) *positions {
	if data == nil {
		data = []byte{}
	}
	return &positions{data: data} // its map comes with the scan
}

// scan records the positions of data's keys now.
func scan(data []byte) (out *positions) {
	s := &scanner{src: []rune(string(data)), line: 1, col: 1,
		pos: positions{at: map[string]Pos{}}, arrays: map[string]int{}}
	defer func() {
		_ = recover() // a scanner bug must never break decoding
		out = &s.pos
	}()
	s.document()
	return &s.pos
}

func (s *scanner) peek() rune {
	if s.i >= len(s.src) {
		return 0
	}
	return s.src[s.i]
}

func (s *scanner) next() rune {
	r := s.peek()
	if r == 0 {
		return 0
	}
	s.i++
	if r == '\n' {
		s.line++
		s.col = 1
	} else {
		s.col++
	}
	return r
}

func (s *scanner) here() Pos { return Pos{s.line, s.col} }

func (s *scanner) skipSpace(newlines bool) {
	for {
		switch r := s.peek(); {
		case r == ' ' || r == '\t' || r == '\r':
			s.next()
		case r == '\n' && newlines:
			s.next()
		case r == '#':
			for s.peek() != '\n' && s.peek() != 0 {
				s.next()
			}
		default:
			return
		}
	}
}

func (s *scanner) document() {
	prefix := ""
	for {
		s.skipSpace(true)
		switch s.peek() {
		case 0:
			return
		case '[':
			start := s.here()
			s.next()
			array := s.peek() == '['
			if array {
				s.next()
			}
			path := s.keyPath()
			for s.peek() != '\n' && s.peek() != 0 {
				s.next()
			}
			if array {
				n := s.arrays[path]
				s.arrays[path] = n + 1
				path = path + "[" + strconv.Itoa(n) + "]"
			} else if base, ok := s.arrayParent(path); ok {
				path = base
			}
			s.pos.record(path, start)
			prefix = path
		default:
			s.keyValue(prefix)
		}
	}
}

// arrayParent rewrites a sub-table header of an array of tables
// ([ports.x] after [[ports]]) to the current element (ports[N].x).
// It looks up each dotted prefix of path, longest first, so its cost is
// the length of path, not the number of arrays.
func (s *scanner) arrayParent(path string) (string, bool) {
	for i := strings.LastIndexByte(path, '.'); i > 0; i = strings.LastIndexByte(path[:i], '.') {
		if n, ok := s.arrays[path[:i]]; ok {
			return path[:i] + "[" + strconv.Itoa(n-1) + "]" + path[i:], true
		}
	}
	return "", false
}

func (s *scanner) keyValue(prefix string) {
	start := s.here()
	key := s.keyPath()
	if key == "" {
		s.next() // not a key: skip a rune and resync
		return
	}
	path := join(prefix, key)
	s.pos.record(path, start)
	s.skipSpace(false)
	if s.peek() == '=' {
		s.next()
		s.skipSpace(false)
		s.value(path)
	}
}

func join(prefix, key string) string {
	if prefix == "" {
		return key
	}
	return prefix + "." + key
}

// keyPath reads a dotted key (bare or quoted parts) and returns it joined by
// dots, unquoted.
func (s *scanner) keyPath() string {
	var parts []string
	for {
		s.skipSpace(false)
		var part string
		switch r := s.peek(); {
		case r == '"' || r == '\'':
			part = s.quoted(r)
		case isBare(r):
			var b strings.Builder
			for isBare(s.peek()) {
				b.WriteRune(s.next())
			}
			part = b.String()
		default:
			return strings.Join(parts, ".")
		}
		parts = append(parts, part)
		s.skipSpace(false)
		if s.peek() != '.' {
			return strings.Join(parts, ".")
		}
		s.next()
	}
}

func isBare(r rune) bool {
	return r == '_' || r == '-' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9')
}

// quoted reads a one-line or multi-line string and returns its raw content
// (escapes are kept; positions are all that matter here).
func (s *scanner) quoted(q rune) string {
	s.next()
	multi := false
	if s.peek() == q && s.i+1 < len(s.src) && s.src[s.i+1] == q {
		s.next()
		s.next()
		multi = true
	}
	var b strings.Builder
	for r := s.peek(); r != 0; r = s.peek() {
		if r == '\\' && q == '"' {
			b.WriteRune(s.next())
			b.WriteRune(s.next())
			continue
		}
		if r == q {
			if !multi {
				s.next()
				return b.String()
			}
			if s.i+2 < len(s.src) && s.src[s.i+1] == q && s.src[s.i+2] == q {
				s.next()
				s.next()
				s.next()
				for s.peek() == q { // up to two quotes may end the content
					s.next()
				}
				return b.String()
			}
		}
		if r == '\n' && !multi {
			return b.String()
		}
		b.WriteRune(s.next())
	}
	return b.String()
}

func (s *scanner) value(path string) {
	switch r := s.peek(); r {
	case '"', '\'':
		s.quoted(r)
	case '[':
		s.next()
		for n := 0; ; n++ {
			s.skipSpace(true)
			if s.peek() == ']' || s.peek() == 0 {
				s.next()
				return
			}
			elem := path + "[" + strconv.Itoa(n) + "]"
			s.pos.record(elem, s.here())
			s.value(elem)
			s.skipSpace(true)
			if s.peek() == ',' {
				s.next()
			}
		}
	case '{':
		s.next()
		for {
			s.skipSpace(false)
			if s.peek() == '}' || s.peek() == 0 || s.peek() == '\n' {
				s.next()
				return
			}
			s.keyValue(path)
			s.skipSpace(false)
			if s.peek() == ',' {
				s.next()
			}
		}
	default:
		for r := s.peek(); r != 0 && r != ',' && r != ']' && r != '}' && r != '\n' && r != '#'; r = s.peek() {
			s.next()
		}
	}
}
