package decl

import "fmt"

// Bounds on a declaration's shape and values. Decode checks the shape in
// one linear pass over the bytes before the TOML decoder or the key
// position scanner sees them, so no input makes either recurse deeply or
// build long key paths; Validate checks the decoded values again. Together
// with MaxFileSize they keep decoding one file within a fixed amount of
// memory (docs/security.md) and every rendered unit line far below
// systemd's 1 MiB line limit.
const (
	// MaxDepth bounds the nesting of arrays and inline tables, and the
	// number of parts of one dotted key or table header.
	MaxDepth = 8
	// MaxItems bounds the number of keys, table headers and array
	// elements in one declaration.
	MaxItems = 4096
	// MaxKeyPath bounds the full path of a key: its table's name, the
	// keys of the inline tables around it and its own dotted parts, quotes
	// left out. The keys the schema knows are a few dozen characters.
	MaxKeyPath = 256
	// MaxValueLen bounds one string value.
	MaxValueLen = 64 << 10
	// MaxValuesTotal bounds the sum of every string in the declaration.
	// Each is quoted into the unit at most once or twice and a quoted byte
	// takes at most four (\xNN), so ExecStart= stays well under 1 MiB.
	MaxValuesTotal = 128 << 10
	// MaxDescriptionLen bounds description, which becomes Description=.
	MaxDescriptionLen = 1 << 10
)

// shape is the state of the bounds pass: a tokenizer that knows TOML's
// strings and comments, and just enough of its structure (brackets, where
// a key is) to measure nesting, items, key paths and strings.
type shape struct {
	data    []byte
	i       int   // the next byte; where the error is when run fails
	stack   []int // open '[' and '{' of values: the key length each adds
	keyCtx  bool  // a key may be written here
	header  bool  // inside a [table] or [[array]] header
	prefix  int   // length of the current table's name
	key     int   // length of the key being read, dots included
	parts   int   // parts of the key being read
	lastKey int   // length of the key whose value is being read
	items   int
	total   int
}

// checkShape reports the first bound data exceeds, with its position, or
// nil.
func checkShape(file string, data []byte) *Diagnostic {
	if len(data) > MaxFileSize {
		return &Diagnostic{File: file, Severity: Error, Message: tooLarge(int64(len(data))).Error()}
	}
	s := &shape{data: data, keyCtx: true}
	if msg := s.run(); msg != "" {
		line, col := position(data, s.i)
		return &Diagnostic{File: file, Line: line, Col: col, Severity: Error, Message: msg}
	}
	return nil
}

// position is the 1-based line and column, in runes, of byte i of data:
// counted only for an error, so that the pass itself does not.
func position(data []byte, i int) (line, col int) {
	line, col = 1, 1
	for _, c := range data[:min(i, len(data))] {
		if c == '\n' {
			line++
			col = 1
		} else if c&0xC0 != 0x80 { // count runes, not bytes
			col++
		}
	}
	return line, col
}

func (s *shape) advance() { s.i++ }

// byteSet is a set of bytes, looked up by a table rather than a call.
type byteSet [256]bool

// allBut is the set of every byte except those of except.
func allBut(except string) (t byteSet) {
	for i := range t {
		t[i] = true
	}
	for _, c := range []byte(except) {
		t[c] = false
	}
	return t
}

var (
	// inert are the bytes run has nothing to do for unless a key is
	// being read: all but the punctuation it follows and newlines.
	inert = allBut("#\"'\n[]{},=.")
	// inBasic and inLiteral are the bytes str passes over in a "basic"
	// and a 'literal' string.
	inBasic   = allBut("\"\\\n")
	inLiteral = allBut("'\\\n")
	// inComment are the bytes of a comment.
	inComment = allBut("\n")
	// blank are the spaces of TOML; bare the bytes of a bare key.
	blank = only(" \t")
	bare  = only("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
)

// only is the set of the bytes of s.
func only(s string) (t byteSet) {
	for _, c := range []byte(s) {
		t[c] = true
	}
	return t
}

// skip advances over the bytes in plain, none of them a newline.
func (s *shape) skip(plain *byteSet) {
	i := s.i
	for i < len(s.data) && plain[s.data[i]] {
		i++
	}
	s.i = i
}

func (s *shape) run() string {
	for s.i < len(s.data) {
		c := s.data[s.i]
		if !s.keyCtx && inert[c] {
			s.skip(&inert)
			continue
		}
		if s.keyCtx && (c == ' ' || c == '\t') {
			s.skip(&blank) // before a key or around its dots
			continue
		}
		var msg string
		switch {
		case c == '#':
			s.skip(&inComment)
			continue
		case c == '"' || c == '\'':
			if msg = s.str(c); msg != "" {
				return msg
			}
			continue
		case c == '\n' && len(s.stack) == 0:
			s.startKey()
		case c == '[' || c == '{':
			msg = s.open(c)
		case c == ']' || c == '}':
			s.close()
		case c == ',':
			msg = s.item()
			if n := len(s.stack); n > 0 && s.stack[n-1] >= 0 {
				s.startKey() // the next key of an inline table
			} else {
				s.keyCtx = false
			}
		case c == '=':
			msg = s.item()
			s.keyCtx, s.lastKey = false, s.key
		case c == '.' && s.keyCtx:
			if s.parts++; s.parts >= MaxDepth {
				msg = fmt.Sprintf("dotted key or table name with more than %d parts", MaxDepth)
			} else {
				msg = s.grow(1)
			}
		case s.keyCtx && bare[c]:
			// A run of bare key characters grows the key at once, up to
			// the byte that would make its path too long.
			end := s.i + 1
			for end < len(s.data) && bare[s.data[end]] {
				end++
			}
			n := end - s.i
			tooLong := false
			if room := MaxKeyPath - s.path(); n > room {
				n, tooLong = max(room, 0), true
			}
			s.key += n
			s.i += n
			if !tooLong {
				continue
			}
			msg = s.grow(1) // at the byte that makes the path too long
		}
		if msg != "" {
			return msg
		}
		s.advance()
	}
	return ""
}

// startKey marks the start of a place where a key may be written.
func (s *shape) startKey() {
	s.keyCtx, s.key, s.parts = true, 0, 0
	if len(s.stack) == 0 {
		s.header = false
	}
}

// grow adds n bytes to the key being read and checks its whole path: the
// table's name, the keys of the inline tables around it, and itself.
func (s *shape) grow(n int) string {
	s.key += n
	if s.path() > MaxKeyPath {
		return fmt.Sprintf("key path (table, inline tables and key) longer than %d characters: use shorter names", MaxKeyPath)
	}
	return ""
}

// path is the length of the whole path of the key being read.
func (s *shape) path() int {
	path := s.key
	if !s.header {
		path += s.prefix
		for _, k := range s.stack {
			path += max(k, 0)
		}
	}
	return path
}

func (s *shape) item() string {
	if s.items++; s.items > MaxItems {
		return fmt.Sprintf("more than %d keys, tables and array elements: a declaration describes one app; split it or move data into files", MaxItems)
	}
	return ""
}

func (s *shape) open(c byte) string {
	if c == '[' && s.keyCtx && len(s.stack) == 0 {
		if !s.header {
			s.header = true
			return s.item()
		}
		return "" // the second [ of [[array]]
	}
	// An inline table adds its key to the paths inside it (>= 0); an
	// array adds nothing (-1).
	if c == '{' {
		s.stack = append(s.stack, s.lastKey)
		s.startKey()
	} else {
		s.stack = append(s.stack, -1)
		s.keyCtx = false
	}
	if len(s.stack) > MaxDepth {
		return fmt.Sprintf("arrays and inline tables nested more than %d deep", MaxDepth)
	}
	return ""
}

func (s *shape) close() {
	switch {
	case s.header:
		if s.keyCtx {
			s.prefix = s.key
		}
		s.keyCtx = false
	case len(s.stack) > 0:
		s.stack = s.stack[:len(s.stack)-1]
		s.keyCtx = false
	}
}

// str skips a string of any of TOML's four kinds starting at s.i, checking
// its length. The position of an error is the string's start.
func (s *shape) str(q byte) string {
	start := s.i
	delim := 1
	if s.closes(q) {
		delim = 3
	}
	for range delim {
		s.advance()
	}
	plain := &inBasic
	if q == '\'' {
		plain = &inLiteral
	}
	n := 0
	for s.i < len(s.data) {
		c := s.data[s.i]
		if plain[c] {
			from := s.i
			s.skip(plain)
			n += s.i - from
			continue
		}
		if c == '\\' && q == '"' && s.i+1 < len(s.data) {
			s.advance()
			n++
		} else if c == q && (delim == 1 || s.closes(q)) {
			for range delim {
				s.advance()
			}
			break
		} else if c == '\n' && delim == 1 {
			break
		}
		s.advance()
		n++
	}
	s.total += n
	var msg string
	switch {
	case s.keyCtx:
		msg = s.grow(n)
	case n > MaxValueLen:
		msg = fmt.Sprintf("string of %d bytes, more than the %d (64 KiB) a value may have: keep long data in a file the app reads (binds, env_files)", n, MaxValueLen)
	case s.total > MaxValuesTotal:
		msg = fmt.Sprintf("strings add up to more than %d bytes (128 KiB), more than fits a unit's command line: keep long data in files the app reads (binds, env_files)", MaxValuesTotal)
	}
	if msg != "" {
		s.i = start
	}
	return msg
}

// closes reports whether three q start at s.i: a multi-line string's
// opening or closing delimiter.
func (s *shape) closes(q byte) bool {
	return s.i+2 < len(s.data) && s.data[s.i] == q && s.data[s.i+1] == q && s.data[s.i+2] == q
}
