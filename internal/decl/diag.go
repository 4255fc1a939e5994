package decl

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// Severity says whether a Diagnostic stops the declaration from being used.
type Severity int

const (
	// Error makes the declaration unusable: it is not rendered or applied.
	Error Severity = iota
	// Warning is reported but does not stop anything.
	Warning
)

func (s Severity) String() string {
	if s == Warning {
		return "warning"
	}
	return "error"
}

// Diagnostic is one problem found in a declaration. Line and Col are 1-based
// and zero when unknown; Key is the TOML key path (ports[0].host_port) when
// the problem belongs to one key.
//
// Validation does not look up where a key is written until the position
// is needed, which for most declarations is never: its diagnostics carry
// the key and leave Line and Col zero. Position, String and Sort look the
// position up.
type Diagnostic struct {
	File     string
	Line     int
	Col      int
	Key      string
	Severity Severity
	Message  string
	// at, when set, holds where Key is written, to be looked up on
	// first use.
	at *positions
}

// Position returns the diagnostic's line and column, looking them up if
// they have not been yet; zero when unknown.
func (d Diagnostic) Position() (line, col int) {
	if d.at != nil && d.Line == 0 {
		p := d.at.lookup(d.Key)
		return p.Line, p.Col
	}
	return d.Line, d.Col
}

// resolve looks up the position, once, into Line and Col.
func (d *Diagnostic) resolve() {
	if d.at != nil {
		d.Line, d.Col = d.Position()
		d.at = nil
	}
}

// String formats the diagnostic as file:line:col: [warning: ]key: message,
// the form editors and CI annotations understand. File, key and message are
// passed through EscapeText: the result is one line with no control
// characters, whatever the declaration holds.
func (d Diagnostic) String() string {
	var b strings.Builder
	b.WriteString(EscapeText(d.File))
	if line, col := d.Position(); line > 0 {
		fmt.Fprintf(&b, ":%d", line)
		if col > 0 {
			fmt.Fprintf(&b, ":%d", col)
		}
	}
	b.WriteString(": ")
	if d.Severity == Warning {
		b.WriteString("warning: ")
	}
	if d.Key != "" {
		b.WriteString(EscapeText(d.Key))
		b.WriteString(": ")
	}
	b.WriteString(EscapeText(d.Message))
	return b.String()
}

// Diagnostics is a list of problems, errors and warnings mixed.
type Diagnostics []Diagnostic

// HasErrors reports whether any diagnostic is an Error.
func (ds Diagnostics) HasErrors() bool {
	for _, d := range ds {
		if d.Severity == Error {
			return true
		}
	}
	return false
}

// Errors returns the diagnostics of severity Error.
func (ds Diagnostics) Errors() Diagnostics { return ds.filter(Error) }

// Warnings returns the diagnostics of severity Warning.
func (ds Diagnostics) Warnings() Diagnostics { return ds.filter(Warning) }

func (ds Diagnostics) filter(s Severity) Diagnostics {
	var out Diagnostics
	for _, d := range ds {
		if d.Severity == s {
			out = append(out, d)
		}
	}
	return out
}

// Err joins the errors into one error, or returns nil when there are none.
func (ds Diagnostics) Err() error {
	var errs []error
	for _, d := range ds.Errors() {
		errs = append(errs, errors.New(d.String()))
	}
	return errors.Join(errs...)
}

// Sort orders diagnostics by file, line, column, key and message, so that
// the same declarations always give the same list.
// The positions of diagnostics are looked up first, when there are at
// least two to order.
func (ds Diagnostics) Sort() {
	if len(ds) < 2 {
		return
	}
	for i := range ds {
		ds[i].resolve()
	}
	sort.SliceStable(ds, func(i, j int) bool {
		a, b := ds[i], ds[j]
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		if a.Col != b.Col {
			return a.Col < b.Col
		}
		if a.Key != b.Key {
			return a.Key < b.Key
		}
		if a.Severity != b.Severity {
			return a.Severity < b.Severity
		}
		return a.Message < b.Message
	})
}
