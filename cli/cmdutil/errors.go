package cmdutil // import "github.com/phoenix/platform/cli/cmdutil"

import (
	"context"
	"errors"
	"fmt"
	"os"
	"syscall"
)

// ErrSilent is returned by a command that has already explained its failure
// on its output; main exits non-zero without printing it again.
var ErrSilent = errors.New("silent error")

// ExitError ends the process with Code and no "Error:" line: the command has
// said what happened, or the end needs no explanation (a run stopped by
// Ctrl-C exits 130). Err, if set, is the cause, for errors.Is and tests.
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("exit status %d", e.Code)
	}
	return fmt.Sprintf("exit status %d: %v", e.Code, e.Err)
}

func (e *ExitError) Unwrap() error { return e.Err }

// SignalError is the cause with which the root command cancels a command's
// context when a signal arrives (see context.Cause).
type SignalError struct {
	Signal os.Signal
}

func (e *SignalError) Error() string { return "received " + e.Signal.String() }

// Signal returns the signal that cancelled ctx, or nil if none did.
func Signal(ctx context.Context) os.Signal {
	var sig *SignalError
	if errors.As(context.Cause(ctx), &sig) {
		return sig.Signal
	}
	return nil
}

// Interrupted is what a long-running command returns once ctx has ended:
// nil while ctx is live; after a signal, an ExitError with the shell's
// status for it (128 + the signal's number: 130 for SIGINT, 143 for
// SIGTERM); after any other cancellation, an error saying so.
func Interrupted(ctx context.Context) error {
	if ctx.Err() == nil {
		return nil
	}
	cause := context.Cause(ctx)
	var sig *SignalError
	if errors.As(cause, &sig) {
		if n, ok := sig.Signal.(syscall.Signal); ok {
			return &ExitError{Code: 128 + int(n), Err: cause}
		}
		return &ExitError{Code: 1, Err: cause}
	}
	return fmt.Errorf("interrupted: %w", cause)
}
