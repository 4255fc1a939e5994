package podman

import (
	"context"
	"io"
)

type progressKey struct{}

// WithProgress returns a context under which Pull writes podman's progress
// lines ("Copying blob ...", "Writing manifest ...") to w. Without it a
// pull is quiet.
func WithProgress(ctx context.Context, w io.Writer) context.Context {
	return context.WithValue(ctx, progressKey{}, w)
}

// progressOf returns the writer WithProgress put in ctx, or nil.
func progressOf(ctx context.Context) io.Writer {
	w, _ := ctx.Value(progressKey{}).(io.Writer)
	return w
}
