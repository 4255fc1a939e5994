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
type Diagnostic struct {
	File     string
	Line     int
	Col      int
	Key      string
	Severity Severity
	Message  string
}

// String formats the diagnostic as file:line:col: [warning: ]key: message,
// the form editors and CI annotations understand. File, key and message are
// passed through EscapeText: the result is one line with no control
// characters, whatever the declaration holds.
func (d Diagnostic) String() string {
	var b strings.Builder
	b.WriteString(EscapeText(d.File))
	if d.Line > 0 {
		fmt.Fprintf(&b, ":%d", d.Line)
		if d.Col > 0 {
			fmt.Fprintf(&b, ":%d", d.Col)
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

// Sort orders diagnostics by file, line, column and message.
func (ds Diagnostics) Sort() {
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
		return a.Message < b.Message
	})
}
