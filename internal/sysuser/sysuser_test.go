package sysuser

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestNextFree(t *testing.T) {
	for _, tc := range []struct {
		files []string
		want  int
	}{
		{nil, FirstID},
		{[]string{"alice:100000:65536\n"}, 165536},
		{[]string{"alice:100000:65536\nbob:300000:1000\n", "carol:200000:65536\n# comment\nbroken\n"}, 301000},
		{[]string{"low:1000:10\n"}, FirstID},
	} {
		var bs [][]byte
		for _, f := range tc.files {
			bs = append(bs, []byte(f))
		}
		if got := NextFree(bs...); got != tc.want {
			t.Errorf("NextFree(%q) = %d, want %d", tc.files, got, tc.want)
		}
	}
}

func TestEnsure(t *testing.T) {
	dir := t.TempDir()
	write := func(name, s string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	var calls []string
	u := &Users{
		Passwd: write("passwd", "root:x:0:0::/root:/bin/sh\nalice:x:1000:1000::/home/alice:/bin/sh\n"),
		SubUID: write("subuid", "alice:100000:65536\n"),
		SubGID: write("subgid", "alice:100000:65536\nbob:165536:65536\n"),
		Run: func(_ context.Context, name string, args ...string) error {
			calls = append(calls, name+" "+strings.Join(args, " "))
			return nil
		},
	}
	if ok, err := u.Ready("ynhd-db"); err != nil || ok {
		t.Fatalf("Ready before = %v, %v", ok, err)
	}
	if err := u.Ensure(context.Background(), "ynhd-db"); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"useradd --system --user-group --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin --comment ynhd app (many-id system user) ynhd-db",
		"usermod --add-subuids 231072-296607 --add-subgids 231072-296607 ynhd-db",
	}
	if d := cmp.Diff(calls, want); d != "" {
		t.Errorf("commands (-got +want):\n%s", d)
	}

	// A user that exists with one range only gets the other.
	calls = nil
	write("passwd", "ynhd-db:x:999:999::/nonexistent:/usr/sbin/nologin\n")
	write("subuid", "ynhd-db:231072:65536\n")
	if err := u.Ensure(context.Background(), "ynhd-db"); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(calls, []string{"usermod --add-subgids 296608-362143 ynhd-db"}); d != "" {
		t.Errorf("commands (-got +want):\n%s", d)
	}
	write("subgid", "ynhd-db:296608:65536\n")
	if ok, err := u.Ready("ynhd-db"); err != nil || !ok {
		t.Errorf("Ready after = %v, %v", ok, err)
	}
}
