package cli

import (
	"context"
	"fmt"
	"time"

	"github.com/ynhd/ynhd/internal/sdbus"
)

// waitOnlineLimit bounds `ynhd wait-online`: apps start after it either
// way.
const waitOnlineLimit = 90 * time.Second

// cmdWaitOnline waits until the system manager's network-online.target is
// active, for user units that cannot order after it (the unit
// ynhd-network-online.service runs it at boot). It returns at once when
// there is no system manager to ask, or when the target is inactive with
// no job queued (nothing on this host pulls it in), and after 90 s in any
// case: it delays apps, it never keeps them from starting.
func cmdWaitOnline(limit time.Duration, e env) int {
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	bus := sdbus.New(true)
	cctx, ccancel := context.WithTimeout(ctx, 5*time.Second)
	err := bus.Connect(cctx)
	ccancel()
	if err != nil {
		fmt.Fprintf(e.stderr, "ynhd wait-online: no system manager to ask (%v); not waiting\n", err)
		return exitOK
	}
	defer bus.Close()
	start := time.Now()
	for {
		state, job := onlineState(ctx, bus)
		switch {
		case state == "active":
			fmt.Fprintf(e.stdout, "network-online.target is active (waited %s)\n", time.Since(start).Round(time.Millisecond))
			return exitOK
		case state == "inactive" && !job:
			fmt.Fprintln(e.stdout, "network-online.target is inactive and not being started; not waiting")
			return exitOK
		}
		select {
		case <-ctx.Done():
			fmt.Fprintf(e.stderr, "ynhd wait-online: network-online.target is %s after %s; going on\n", state, limit)
			return exitOK
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// onlineState returns network-online.target's ActiveState and whether a
// job is queued for it.
func onlineState(ctx context.Context, bus *sdbus.Bus) (string, bool) {
	const target = "network-online.target"
	p, err := bus.GetUnitPropertyContext(ctx, target, "ActiveState")
	if err != nil {
		return "unknown", true
	}
	state, _ := p.Value.Value().(string)
	job := false
	if jp, err := bus.GetUnitPropertyContext(ctx, target, "Job"); err == nil {
		if v, ok := jp.Value.Value().([]any); ok && len(v) > 0 {
			if id, ok := v[0].(uint32); ok && id != 0 {
				job = true
			}
		}
	}
	return state, job
}
