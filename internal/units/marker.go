package units

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
)

// Marker is what a unit file says about its origin: ynhd writes an
// [X-Ynhd] section (ignored by systemd) naming the declaration it came from,
// and ends the file with a hash of everything before that line.
type Marker struct {
	Source string // declaration file the unit was rendered from
	Mode   string // user or system
	// Group is set on a group's target (RenderGroup): the group's name.
	// Its Source is then the declarations directory, not a file in it.
	Group string
	Hash  string // sha256:HEX of the unit's bytes before the Hash line
	// Intact is true when Hash matches the content: nobody edited the file
	// since ynhd wrote it.
	Intact bool
}

// Seal serializes u and appends the Hash= line of its marker section, which
// must be the unit's last section.
func Seal(u *Unit) ([]byte, error) {
	if len(u.Sections) == 0 || u.Sections[len(u.Sections)-1].Name != MarkerSection {
		return nil, fmt.Errorf("unit has no trailing [%s] section", MarkerSection)
	}
	b, err := u.appendTo(nil, sealLen)
	if err != nil {
		return nil, err
	}
	return sealBytes(b), nil
}

// sealBytes appends the Hash= line to a serialized unit whose last
// section is the marker's.
func sealBytes(b []byte) []byte {
	sum := sha256.Sum256(b)
	b = slices.Grow(b, sealLen)
	b = append(b, markerHashKey+"="+hashPrefix...)
	b = hex.AppendEncode(b, sum[:])
	return append(b, '\n')
}

// hashPrefix names the hash function in a marker's hash.
const hashPrefix = "sha256:"

// sealLen is the length of the Hash= line sealBytes appends.
const sealLen = len(markerHashKey) + len("=") + len(hashPrefix) + 2*sha256.Size + len("\n")

func hashOf(b []byte) string {
	sum := sha256.Sum256(b)
	return hashPrefix + hex.EncodeToString(sum[:])
}

// ReadMarker finds ynhd's marker in a unit file. ok is false for a file ynhd
// did not write (no [X-Ynhd] section with a Hash). A file edited by hand
// keeps its marker but is not Intact, whether the edit is before the Hash
// line or after it (a line appended to the end).
func ReadMarker(data []byte) (m Marker, ok bool) {
	inMarker := false
	hashAt, hashEnd := -1, 0 // byte offsets of the last Hash= line in the marker
	for off := 0; off < len(data); {
		end := bytes.IndexByte(data[off:], '\n')
		next := len(data)
		if end >= 0 {
			next = off + end + 1
		}
		line := strings.TrimSpace(string(data[off:next]))
		switch {
		case strings.HasPrefix(line, "["):
			inMarker = line == "["+MarkerSection+"]"
		case inMarker:
			k, v, _ := strings.Cut(line, "=")
			switch k {
			case "Source":
				m.Source = strings.ReplaceAll(v, "%%", "%")
			case "Mode":
				m.Mode = v
			case markerGroupKey:
				m.Group = v
			case markerHashKey:
				m.Hash, hashAt, hashEnd = v, off, next
			}
		}
		off = next
	}
	if hashAt < 0 {
		return Marker{}, false
	}
	rest := bytes.TrimSpace(data[hashEnd:])
	m.Intact = len(rest) == 0 && hashOf(data[:hashAt]) == m.Hash
	return m, true
}
