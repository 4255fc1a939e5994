package update

import (
	"context"
	"fmt"
)

// JobStarter is the part of go-systemd's D-Bus connection (and of the
// reconciler's Manager) that queues unit jobs.
type JobStarter interface {
	StartUnitContext(ctx context.Context, name, mode string, ch chan<- string) (int, error)
	StopUnitContext(ctx context.Context, name, mode string, ch chan<- string) (int, error)
	RestartUnitContext(ctx context.Context, name, mode string, ch chan<- string) (int, error)
	ResetFailedUnitContext(ctx context.Context, name string) error
}

// JobManager is Units over a JobStarter: each call queues a job in
// "replace" mode and waits for its result.
type JobManager struct{ M JobStarter }

// Start starts unit and waits for the job.
func (j JobManager) Start(ctx context.Context, unit string) error {
	return j.job(ctx, unit, j.M.StartUnitContext)
}

// Stop stops unit and waits for the job.
func (j JobManager) Stop(ctx context.Context, unit string) error {
	return j.job(ctx, unit, j.M.StopUnitContext)
}

// Restart restarts unit and waits for the job. A unit that failed (a
// new image that kept crashing hits the start limit) is reset first, so
// that a rollback can start it again.
func (j JobManager) Restart(ctx context.Context, unit string) error {
	_ = j.M.ResetFailedUnitContext(ctx, unit) // fails when the unit is not failed
	return j.job(ctx, unit, j.M.RestartUnitContext)
}

func (j JobManager) job(ctx context.Context, unit string, f func(context.Context, string, string, chan<- string) (int, error)) error {
	ch := make(chan string, 1)
	if _, err := f(ctx, unit, "replace", ch); err != nil {
		return err
	}
	select {
	case res := <-ch:
		if res != "done" {
			return fmt.Errorf("job %s", res)
		}
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
