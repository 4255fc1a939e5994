package podman

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/ynhd/ynhd/internal/decl"
)

// LabelSecretHash is the label on podman secrets ynhd creates: the hash of
// the value they hold, which tells a changed source from an unchanged one
// without reading the secret back.
const LabelSecretHash = "io.ynhd.secret-hash"

// MaxSecretSize is the largest secret podman stores (512 KiB).
const MaxSecretSize = 512 << 10

// ReadSecret reads the value of a secret ynhd creates, from its file or
// from ynhd's environment (getenv, os.Getenv when nil). Errors name the
// secret and the source, never the value.
func ReadSecret(s decl.Secret, getenv func(string) (string, bool)) ([]byte, error) {
	switch {
	case s.File != "":
		f, err := os.Open(s.File)
		if err != nil {
			var pe *fs.PathError
			if errors.As(err, &pe) {
				err = pe.Err
			}
			return nil, fmt.Errorf("secret %s: cannot read %s: %v; create the file or fix secrets.file", s.Name, s.File, err)
		}
		defer f.Close()
		if st, err := f.Stat(); err == nil && !st.Mode().IsRegular() {
			return nil, fmt.Errorf("secret %s: %s is not a regular file; point secrets.file at a file", s.Name, s.File)
		}
		data, err := io.ReadAll(io.LimitReader(f, MaxSecretSize+1))
		if err != nil {
			return nil, fmt.Errorf("secret %s: reading %s failed", s.Name, s.File)
		}
		if len(data) > MaxSecretSize {
			return nil, fmt.Errorf("secret %s: %s is larger than the %d bytes podman keeps in a secret", s.Name, s.File, MaxSecretSize)
		}
		return data, nil
	case s.Env != "":
		if getenv == nil {
			getenv = os.LookupEnv
		}
		v, ok := getenv(s.Env)
		if !ok {
			return nil, fmt.Errorf("secret %s: variable %s is not in ynhd's environment; set it for ynhd (systemctl --user set-environment %s=..., or an Environment= drop-in for ynhd.service) and reload", s.Name, s.Env, s.Env)
		}
		return []byte(v), nil
	}
	return nil, fmt.Errorf("secret %s has no file or env: it is a podman secret of the user's", s.Name)
}

// SecretHash is what LabelSecretHash holds for a value.
func SecretHash(data []byte) string {
	h := sha256.Sum256(data)
	return hex.EncodeToString(h[:])
}
