package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"strconv"
	"strings"
	"time"

	"github.com/ynhd/ynhd/internal/decl"
	"github.com/ynhd/ynhd/internal/doctor"
	"github.com/ynhd/ynhd/internal/podman"
)

func cmdDoctor(c commonFlags, asJSON bool, e env) int {
	u, err := user.Current()
	if err != nil {
		fmt.Fprintf(e.stderr, "ynhd doctor: %v\n", err)
		return exitProblem
	}
	uid, _ := strconv.Atoi(u.Uid)
	h := doctor.Host{
		FS: os.DirFS("/"), User: u.Username, UID: uid, Home: e.home,
		Ports:    map[string][]int{},
		LookPath: exec.LookPath,
		OpenTun: func() error {
			f, err := os.OpenFile("/dev/net/tun", os.O_RDWR, 0)
			if err == nil {
				f.Close()
			}
			return err
		},
		Podman:         podmanInfo,
		ContainersConf: doctor.ContainersConf,
		Socket: func() error {
			conn, err := net.DialTimeout("unix", podman.SocketPath(), 2*time.Second)
			if err == nil {
				conn.Close()
			}
			return err
		},
	}
	files, _ := decl.DeclarationFiles(c.layout(e).declDir)
	for _, l := range decl.LoadFiles(files, hostFacts(c.system), e.home) {
		h.Apps++
		if l.Parsed == nil {
			continue
		}
		for _, p := range l.Parsed.App.Ports {
			h.Ports[l.Name] = append(h.Ports[l.Name], p.HostPort)
		}
	}
	run := doctor.Run
	if c.system {
		run = doctor.RunSystem
	}
	checks := run(h)
	problems := 0
	for _, ch := range checks {
		if ch.Status == doctor.Problem {
			problems++
		}
	}
	if asJSON {
		writeJSON(e.stdout, doctorJSON{SchemaVersion: jsonSchemaVersion, Checks: checks})
	} else {
		for _, ch := range checks {
			fmt.Fprintf(e.stdout, "%-8s %-16s %s\n", ch.Status, ch.Name, ch.Detail)
			if ch.Fix != "" {
				fmt.Fprintf(e.stdout, "%-8s %-16s fix: %s\n", "", "", ch.Fix)
			}
		}
	}
	if problems > 0 {
		return exitProblem
	}
	return exitOK
}

func isDir(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}

// podmanInfo runs `podman info`, but only in a session with a runtime
// directory (see doctor.ErrNoSession).
func podmanInfo() (doctor.PodmanInfo, error) {
	if rt := os.Getenv("XDG_RUNTIME_DIR"); rt == "" || !isDir(rt) {
		return doctor.PodmanInfo{}, doctor.ErrNoSession
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, podmanPath(), "info", "--format", "json").Output()
	if ctx.Err() != nil {
		return doctor.PodmanInfo{}, fmt.Errorf("podman info gave no answer within a minute")
	}
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			return doctor.PodmanInfo{}, fmt.Errorf("%v: %s", err, strings.TrimSpace(string(ee.Stderr)))
		}
		return doctor.PodmanInfo{}, err
	}
	var info struct {
		Host struct {
			CgroupVersion string `json:"cgroupVersion"`
			OCIRuntime    struct {
				Name string `json:"name"`
			} `json:"ociRuntime"`
		} `json:"host"`
		Store struct {
			GraphDriverName string `json:"graphDriverName"`
		} `json:"store"`
		Version struct {
			Version string `json:"Version"`
		} `json:"version"`
	}
	if err := json.Unmarshal(out, &info); err != nil {
		return doctor.PodmanInfo{}, fmt.Errorf("reading podman info: %w", err)
	}
	return doctor.PodmanInfo{Version: info.Version.Version, OCIRuntime: info.Host.OCIRuntime.Name,
		GraphDriver: info.Store.GraphDriverName, CgroupVersion: info.Host.CgroupVersion}, nil
}
