package units

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
)

// Marker is what a unit file says about its origin: ynhd writes an
// [X-Ynhd] section (ignored by systemd) naming the declaration it came from,
// and ends the file with a hash of everything before that line.
type Marker struct {
	Source string // declaration file the unit was rendered from
	Mode   string // user or system
	Hash   string // sha256:HEX of the unit's bytes before the Hash line
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
	b, err := u.Bytes()
	if err != nil {
		return nil, err
	}
	return append(b, []byte(markerHashKey+"="+hashOf(b)+"\n")...), nil
}

func hashOf(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// ReadMarker finds ynhd's marker in a unit file. ok is false for a file ynhd
// did not write (no [X-Ynhd] section with a Hash).
func ReadMarker(data []byte) (m Marker, ok bool) {
	body := bytes.TrimRight(data, "\n")
	i := bytes.LastIndexByte(body, '\n')
	last := string(body[i+1:])
	hash, found := strings.CutPrefix(last, markerHashKey+"=")
	if !found {
		return Marker{}, false
	}
	m.Hash = hash
	m.Intact = hashOf(data[:i+1]) == hash
	inMarker := false
	sc := bufio.NewScanner(bytes.NewReader(data[:i+1]))
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "[") {
			inMarker = line == "["+MarkerSection+"]"
			ok = ok || inMarker
			continue
		}
		if !inMarker {
			continue
		}
		k, v, _ := strings.Cut(line, "=")
		switch k {
		case "Source":
			m.Source = strings.ReplaceAll(v, "%%", "%")
		case "Mode":
			m.Mode = v
		}
	}
	return m, ok
}
