package sysuser

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestFreeRange(t *testing.T) {
	for _, tc := range []struct {
		files []string
		want  uint64
		err   bool
	}{
		{nil, FirstID, false},
		{[]string{"alice:100000:65536\n"}, 165536, false},
		{[]string{"alice:100000:65536\nbob:300000:1000\n", "carol:200000:65536\n# comment\nbroken\n"}, 301000, false},
		{[]string{"a:100000:65536\nb:400000:10\n"}, 165536, false}, // the gap fits
		{[]string{"low:1000:10\n"}, FirstID, false},
		{[]string{"a:100000:65536\nb:165536:65536\n", "c:231072:10\n"}, 231082, false},
		// The report: podman's entry up to the 32-bit limit must not
		// push the next range past it.
		{[]string{"alice:100000:65536\ncontainers:2147483647:2147483648\n"}, 165536, false},
		{[]string{"all:100000:4294867294\n"}, 0, true},
		{[]string{"x:100000:2147483547\ncontainers:2147483647:2147483648\n"}, 0, true},
	} {
		var bs [][]byte
		for _, f := range tc.files {
			bs = append(bs, []byte(f))
		}
		got, err := FreeRange(RangeSize, bs...)
		if got != tc.want || (err != nil) != tc.err {
			t.Errorf("FreeRange(%q) = %d, %v; want %d (error %v)", tc.files, got, err, tc.want, tc.err)
		}
		if err == nil && got+RangeSize-1 > LastID {
			t.Errorf("FreeRange(%q) = %d, past 32-bit ids", tc.files, got)
		}
	}
}

// fakeShadow is useradd, usermod and userdel acting on files, as the real
// tools would, slowly enough that unlocked allocations would interleave.
type fakeShadow struct {
	dir   string
	mu    sync.Mutex // the shadow tools' own lock on each file
	fail  string     // a tool that fails
	calls []string
}

func (f *fakeShadow) run(_ context.Context, name string, args ...string) error {
	f.mu.Lock()
	f.calls = append(f.calls, name+" "+strings.Join(args, " "))
	f.mu.Unlock()
	time.Sleep(5 * time.Millisecond)
	if name == f.fail {
		return errors.New(name + " failed")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	user := args[len(args)-1]
	switch name {
	case "useradd":
		f.appendLine("passwd", fmt.Sprintf("%s:x:999:999:%s:/nonexistent:/usr/sbin/nologin", user, args[len(args)-2]))
	case "userdel":
		f.removeLine("passwd", user)
	case "usermod":
		for i := 0; i+1 < len(args); i += 2 {
			if args[i] == "--comment" {
				f.setComment(user, args[i+1])
				continue
			}
			lo, hi, _ := strings.Cut(args[i+1], "-")
			a, _ := strconv.Atoi(lo)
			b, _ := strconv.Atoi(hi)
			file := map[string]string{"--add-subuids": "subuid", "--add-subgids": "subgid"}[args[i]]
			if file != "" {
				f.appendLine(file, fmt.Sprintf("%s:%d:%d", user, a, b-a+1))
			}
		}
	}
	return nil
}

func (f *fakeShadow) appendLine(file, line string) {
	p := filepath.Join(f.dir, file)
	b, _ := os.ReadFile(p)
	os.WriteFile(p, append(b, line+"\n"...), 0o644)
}

func (f *fakeShadow) setComment(user, comment string) {
	p := filepath.Join(f.dir, "passwd")
	b, _ := os.ReadFile(p)
	lines := strings.Split(string(b), "\n")
	for i, l := range lines {
		if fs := strings.Split(l, ":"); len(fs) == 7 && fs[0] == user {
			fs[4] = comment
			lines[i] = strings.Join(fs, ":")
		}
	}
	os.WriteFile(p, []byte(strings.Join(lines, "\n")), 0o644)
}

func (f *fakeShadow) removeLine(file, user string) {
	p := filepath.Join(f.dir, file)
	b, _ := os.ReadFile(p)
	var keep []string
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if !strings.HasPrefix(l, user+":") {
			keep = append(keep, l)
		}
	}
	os.WriteFile(p, []byte(strings.Join(keep, "\n")+"\n"), 0o644)
}

func newFake(t *testing.T, passwd, subuid, subgid string) (*fakeShadow, func() *Users) {
	dir := t.TempDir()
	f := &fakeShadow{dir: dir}
	for name, s := range map[string]string{"passwd": passwd, "subuid": subuid, "subgid": subgid} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	lock := filepath.Join(dir, "run", "subid.lock")
	return f, func() *Users {
		return &Users{Passwd: filepath.Join(dir, "passwd"), SubUID: filepath.Join(dir, "subuid"),
			SubGID: filepath.Join(dir, "subgid"), LockFile: lock, Run: f.run}
	}
}

func TestEnsure(t *testing.T) {
	f, users := newFake(t, "root:x:0:0::/root:/bin/sh\nalice:x:1000:1000::/home/alice:/bin/sh\n",
		"alice:100000:65536\n", "alice:100000:65536\nbob:165536:65536\n")
	u := users()
	if ok, err := u.Ready("ynhd-db"); err != nil || ok {
		t.Fatalf("Ready before = %v, %v", ok, err)
	}
	if err := u.Ensure(context.Background(), "ynhd-db"); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"useradd --system --user-group --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin --comment ynhd app db ynhd-db",
		"usermod --add-subuids 231072-296607 --add-subgids 231072-296607 ynhd-db",
	}
	if d := cmp.Diff(f.calls, want); d != "" {
		t.Errorf("commands (-got +want):\n%s", d)
	}
	if ok, err := u.Ready("ynhd-db"); err != nil || !ok {
		t.Errorf("Ready after = %v, %v", ok, err)
	}

	// A user of ynhd's that lacks one range only gets that one.
	f.calls = nil
	f.removeLine("subgid", "ynhd-db")
	if err := u.Ensure(context.Background(), "ynhd-db"); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(f.calls, []string{"usermod --add-subgids 296608-362143 ynhd-db"}); d != "" {
		t.Errorf("commands (-got +want):\n%s", d)
	}
}

// TestAccountsNotMadeForTheAppAreNotTakenOver: an account of the app's
// user name that ynhd did not make for that app is refused; one made by an
// earlier ynhd is adopted and its comment rewritten.
func TestAccountsNotMadeForTheAppAreNotTakenOver(t *testing.T) {
	const long = "abcdefghijklmnopqrstuvwxyz0" // user ynhd-abcdefghijklmnopq-a11dcad3
	for _, tt := range []struct {
		comment, want string
		ready         bool
	}{
		{"ynhd app db", "", true},
		{"", `system user ynhd-db exists but ynhd did not make it for app db (its comment is "", not "ynhd app db"): ynhd never takes over an account it did not make; if it is a leftover, remove it (userdel ynhd-db), otherwise rename the app`, false},
		{"ynhd app other", "ynhd did not make it for app db", false},
		{"ynhd app (many-id system user)", "", false},
	} {
		f, users := newFake(t, "ynhd-db:x:999:999:"+tt.comment+":/nonexistent:/usr/sbin/nologin\n", "ynhd-db:100000:65536\n", "ynhd-db:100000:65536\n")
		u := users()
		if ok, _ := u.Ready("ynhd-db"); ok != tt.ready {
			t.Errorf("%q: Ready = %v", tt.comment, ok)
		}
		err := u.Ensure(context.Background(), "ynhd-db")
		if got := fmt.Sprint(err); (tt.want == "") != (err == nil) || !strings.Contains(got, tt.want) {
			t.Errorf("%q: Ensure: %v, want %q", tt.comment, err, tt.want)
		}
		if tt.comment == legacyComment {
			if d := cmp.Diff(f.calls, []string{"usermod --comment ynhd app db ynhd-db"}); d != "" {
				t.Errorf("legacy account: (-got +want):\n%s", d)
			}
			if ok, _ := u.Ready("ynhd-db"); !ok {
				t.Error("legacy account not ready after Ensure")
			}
		}
	}
	// The short name that spelled a long one's user cannot claim it.
	_, users := newFake(t, "ynhd-abcdefghijklmnopq-a11dcad3:x:999:999:ynhd app "+long+":/:/\n", "", "")
	u := users()
	if err := u.EnsureApp(context.Background(), "ynhd-abcdefghijklmnopq-a11dcad3", "abcdefghijklmnopq-a11dcad3"); err == nil {
		t.Error("a lookalike app takes over another app's account")
	}
	if err := u.EnsureApp(context.Background(), "ynhd-abcdefghijklmnopq-a11dcad3", long); err != nil {
		t.Error(err)
	}
	if err := u.Ensure(context.Background(), "ynhd-abcdefghijklmnopq-a11dcad3"); err == nil {
		t.Error("Ensure guesses the app of a shortened name")
	}
}

// TestFailureLeavesNoHalfMadeUser: when the ranges cannot be given, the
// account just created is removed again.
func TestFailureLeavesNoHalfMadeUser(t *testing.T) {
	f, users := newFake(t, "", "", "")
	f.fail = "usermod"
	err := users().Ensure(context.Background(), "ynhd-db")
	if err == nil || !strings.Contains(err.Error(), "usermod failed") {
		t.Fatalf("Ensure: %v", err)
	}
	if b, _ := os.ReadFile(filepath.Join(f.dir, "passwd")); strings.Contains(string(b), "ynhd-db") {
		t.Errorf("half-made user left:\n%s", b)
	}
	if f.calls[len(f.calls)-1] != "userdel ynhd-db" {
		t.Errorf("calls %q", f.calls)
	}
}

// TestConcurrentAllocationsDoNotOverlap reproduces the report: the daemon
// and `ynhd apply --system` running at once gave two apps one range. Each
// Users here stands for one process: its own mutex, its own open file
// description of the lock file (flock excludes those as it excludes
// processes), all sharing the files the fake shadow tools change.
func TestConcurrentAllocationsDoNotOverlap(t *testing.T) {
	_, users := newFake(t, "", "containers:2147483647:2147483648\n", "containers:2147483647:2147483648\n")
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- users().Ensure(context.Background(), fmt.Sprintf("ynhd-app%d", i))
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	u := users()
	for _, file := range []string{u.SubUID, u.SubGID} {
		b, _ := os.ReadFile(file)
		rs := ranges(b)
		sort.Slice(rs, func(i, j int) bool { return rs[i].start < rs[j].start })
		if len(rs) != 9 {
			t.Fatalf("%d ranges in %s", len(rs), b)
		}
		for i := 1; i < len(rs); i++ {
			if rs[i].start < rs[i-1].end {
				t.Errorf("ranges overlap in %s:\n%s", filepath.Base(file), b)
			}
		}
		if last := rs[len(rs)-2]; last.end-1 > LastID {
			t.Errorf("range past 32-bit ids: %v", last)
		}
	}
}

func TestLockWaitsForTheHolder(t *testing.T) {
	_, users := newFake(t, "", "", "")
	a, b := users(), users()
	unlock, err := a.lock(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, err := b.lock(ctx); err == nil || !strings.Contains(err.Error(), "held by another ynhd") {
		t.Errorf("second lock while held: %v", err)
	}
	unlock()
	unlock2, err := b.lock(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	unlock2()
}
