package cli

import (
	"encoding/json"
	"io"

	"github.com/ynhd/ynhd/internal/decl"
	"github.com/ynhd/ynhd/internal/doctor"
	"github.com/ynhd/ynhd/internal/reconcile"
	"github.com/ynhd/ynhd/internal/units"
)

// jsonSchemaVersion is the version of the JSON that check, plan, doctor,
// snapshots and history print with --json (status has reconcile's
// StatusSchemaVersion). It changes only when a key is removed or changes
// meaning; keys may be added without a change.
const jsonSchemaVersion = 1

// writeJSON prints v indented, without HTML escaping.
func writeJSON(w io.Writer, v any) {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// diagnosticJSON is one diagnostic of check --json.
type diagnosticJSON struct {
	File     string `json:"file"`
	Line     int    `json:"line"`   // 1-based; 0 when unknown
	Column   int    `json:"column"` // 1-based; 0 when unknown
	Key      string `json:"key"`    // the TOML key path, "" for the whole file
	Severity string `json:"severity"`
	Message  string `json:"message"`
}

// checkAppJSON is one declaration of check --json.
type checkAppJSON struct {
	Name  string `json:"name"`
	File  string `json:"file"`
	Valid bool   `json:"valid"`
	// RunsAs is set in system mode for a valid declaration.
	RunsAs *runsAsJSON `json:"runs_as,omitempty"`
}

// runsAsJSON is the user a system-mode app runs as.
type runsAsJSON struct {
	User string `json:"user"`
	Kind string `json:"kind"` // "dynamic" (DynamicUser) or "static"
	Why  string `json:"why"`
}

// checkJSON is what check --json prints.
type checkJSON struct {
	SchemaVersion int              `json:"schema_version"`
	Errors        int              `json:"errors"`
	Warnings      int              `json:"warnings"`
	Apps          []checkAppJSON   `json:"apps"`
	Diagnostics   []diagnosticJSON `json:"diagnostics"`
}

func newCheckJSON(loaded []*decl.Loaded, system bool) checkJSON {
	out := checkJSON{SchemaVersion: jsonSchemaVersion, Apps: []checkAppJSON{}, Diagnostics: []diagnosticJSON{}}
	for _, l := range loaded {
		app := checkAppJSON{Name: decl.AppName(l.File), File: l.File, Valid: l.OK()}
		if system && l.OK() {
			route, why := l.Parsed.App.SystemRoute()
			kind := "dynamic"
			if route == decl.RouteStatic {
				kind = "static"
			}
			app.RunsAs = &runsAsJSON{User: units.SystemUserName(l.Parsed.App.Name), Kind: kind, Why: why}
		}
		out.Apps = append(out.Apps, app)
		for _, d := range l.Diagnostics {
			line, col := d.Position()
			out.Diagnostics = append(out.Diagnostics, diagnosticJSON{File: d.File, Line: line, Column: col, Key: d.Key, Severity: d.Severity.String(), Message: d.Message})
			if d.Severity == decl.Error {
				out.Errors++
			} else {
				out.Warnings++
			}
		}
	}
	return out
}

// actionJSON is one step of plan --json.
type actionJSON struct {
	Op     string `json:"op"`
	App    string `json:"app,omitempty"`
	Unit   string `json:"unit,omitempty"`
	Reason string `json:"reason,omitempty"`
	Image  string `json:"image,omitempty"`
	Volume string `json:"volume,omitempty"`
}

// problemJSON is one problem of plan --json.
type problemJSON struct {
	App     string `json:"app"`
	Message string `json:"message"`
	// Held: the app's start waits for another app to be healthy;
	// Waiting: it waits for something ynhd is doing (a pull, a build, a
	// retry's backoff).
	Held    bool `json:"held"`
	Waiting bool `json:"waiting"`
}

// planJSON is what plan --json prints.
type planJSON struct {
	SchemaVersion int `json:"schema_version"`
	// Changes is true when the next pass would change something (plan's
	// exit status 2).
	Changes  bool          `json:"changes"`
	Actions  []actionJSON  `json:"actions"`
	Problems []problemJSON `json:"problems"`
}

func newPlanJSON(p *reconcile.Plan) planJSON {
	out := planJSON{SchemaVersion: jsonSchemaVersion, Changes: !p.Empty(), Actions: []actionJSON{}, Problems: []problemJSON{}}
	for _, a := range p.Actions {
		out.Actions = append(out.Actions, actionJSON{Op: a.Op.String(), App: a.App, Unit: a.Unit, Reason: a.Reason, Image: a.Image, Volume: a.Volume.Name})
	}
	for _, pr := range p.Problems {
		out.Problems = append(out.Problems, problemJSON{App: pr.App, Message: pr.Message, Held: pr.Held, Waiting: pr.Waiting})
	}
	return out
}

// doctorJSON is what doctor --json prints.
type doctorJSON struct {
	SchemaVersion int            `json:"schema_version"`
	Checks        []doctor.Check `json:"checks"`
}
