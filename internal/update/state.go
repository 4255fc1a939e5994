package update

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/ynhd/ynhd/internal/reconcile"
)

// Kinds of Event.
const (
	KindUpdated    = "updated"
	KindRolledBack = "rolled-back"
	KindFailed     = "failed"
)

// maxHistory and maxBad bound what one app's record keeps.
const (
	maxHistory = 200
	maxBad     = 20
)

// Event is one line of an app's update history.
type Event struct {
	Time   time.Time `json:"time"`
	Kind   string    `json:"kind"`           // updated, rolled-back or failed
	From   string    `json:"from,omitempty"` // image ID before
	To     string    `json:"to,omitempty"`   // image ID tried (updated, rolled-back)
	Digest string    `json:"digest,omitempty"`
	Reason string    `json:"reason,omitempty"`
	// Snapshot is the snapshot a persistent app's update took first.
	Snapshot string `json:"snapshot,omitempty"`
}

// State is what ynhd remembers about one app's updates, in
// STATEDIR/updates/APP.json.
type State struct {
	// Digest is the registry digest the tag named at the last check.
	Digest string `json:"digest,omitempty"`
	// ImageID is the image the app ran after the last check or update.
	ImageID   string    `json:"image_id,omitempty"`
	LastCheck time.Time `json:"last_check,omitempty"`
	// Result says what the last check found or did, in words.
	Result string `json:"result,omitempty"`
	// Failures counts checks that failed in a row (registry down, pull
	// failed); they are retried with backoff.
	Failures int `json:"failures,omitempty"`
	// Bad are digests (policy registry) or image IDs (policy local) that
	// were rolled back: not tried again until the tag moves.
	Bad []string `json:"bad,omitempty"`
	// Kept are earlier image IDs kept for rollback, newest first.
	Kept []string `json:"kept,omitempty"`
	// History is oldest first.
	History []Event `json:"history,omitempty"`
}

// Last returns the last update or rollback, if any.
func (s *State) Last() (Event, bool) {
	for i := len(s.History) - 1; i >= 0; i-- {
		if k := s.History[i].Kind; k == KindUpdated || k == KindRolledBack {
			return s.History[i], true
		}
	}
	return Event{}, false
}

func (s *State) add(e Event) {
	s.History = append(s.History, e)
	if n := len(s.History); n > maxHistory {
		s.History = append([]Event(nil), s.History[n-maxHistory:]...)
	}
}

func (s *State) isBad(v string) bool {
	for _, b := range s.Bad {
		if b == v {
			return true
		}
	}
	return false
}

func (s *State) markBad(v string) {
	if v == "" || s.isBad(v) {
		return
	}
	s.Bad = append(s.Bad, v)
	if n := len(s.Bad); n > maxBad {
		s.Bad = s.Bad[n-maxBad:]
	}
}

// Store keeps the apps' State files in a directory (STATEDIR/updates), and
// update requests made by `ynhd update` in its requests subdirectory.
type Store string

// StoreIn is the Store in ynhd's state directory.
func StoreIn(stateDir string) Store { return Store(filepath.Join(stateDir, "updates")) }

func (s Store) path(app string) string { return filepath.Join(string(s), app+".json") }

// Load returns app's state; a missing file is an empty state.
func (s Store) Load(app string) (*State, error) {
	b, err := os.ReadFile(s.path(app))
	if errors.Is(err, fs.ErrNotExist) {
		return &State{}, nil
	}
	if err != nil {
		return nil, err
	}
	st := &State{}
	if err := json.Unmarshal(b, st); err != nil {
		return nil, fmt.Errorf("reading %s: %w", s.path(app), err)
	}
	return st, nil
}

// Save writes app's state atomically.
func (s Store) Save(app string, st *State) error {
	if err := os.MkdirAll(string(s), 0o700); err != nil {
		return err
	}
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	return reconcile.WriteFileAtomic(s.path(app), append(b, '\n'), 0o600)
}

// Request is an update asked for by `ynhd update`.
type Request struct {
	App   string    `json:"app"`
	Check bool      `json:"check"` // only report what is available
	Time  time.Time `json:"time"`
}

func (s Store) requests() string { return filepath.Join(string(s), "requests") }

// Ask records a request for the daemon, which takes it at its next pass.
func (s Store) Ask(r Request) error {
	if err := os.MkdirAll(s.requests(), 0o700); err != nil {
		return err
	}
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	return reconcile.WriteFileAtomic(filepath.Join(s.requests(), r.App+".json"), b, 0o600)
}

// Take returns and removes the pending requests, sorted by app.
func (s Store) Take() ([]Request, error) {
	ents, err := os.ReadDir(s.requests())
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []Request
	var errs []error
	for _, e := range ents {
		name := e.Name()
		if strings.HasPrefix(name, ".") || !strings.HasSuffix(name, ".json") {
			continue
		}
		p := filepath.Join(s.requests(), name)
		b, err := os.ReadFile(p)
		os.Remove(p)
		var r Request
		if err == nil {
			err = json.Unmarshal(b, &r)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("update request %s: %w", name, err))
			continue
		}
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].App < out[j].App })
	return out, errors.Join(errs...)
}

// shortID is an image ID as podman prints it.
func shortID(id string) string {
	id = strings.TrimPrefix(id, "sha256:")
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// ShortID is an image ID as podman prints it.
func ShortID(id string) string { return shortID(id) }
