package cmdutil

import (
	"context"
	"errors"
	"os"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestInterruptedGivesTheSignalsExitStatus(t *testing.T) {
	t.Parallel()
	tests := []struct {
		sig  os.Signal
		want int
	}{
		{syscall.SIGINT, 130},
		{syscall.SIGTERM, 143},
	}
	for _, tt := range tests {
		t.Run(tt.sig.String(), func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithCancelCause(t.Context())
			require.NoError(t, Interrupted(ctx), "a live context is no interruption")
			assert.Nil(t, Signal(ctx))
			cancel(&SignalError{Signal: tt.sig})

			assert.Equal(t, tt.sig, Signal(ctx))
			var exit *ExitError
			require.ErrorAs(t, Interrupted(ctx), &exit)
			assert.Equal(t, tt.want, exit.Code)
			var sigErr *SignalError
			assert.ErrorAs(t, exit, &sigErr, "the cause stays reachable")
		})
	}
}

func TestInterruptedWithoutASignalIsAnError(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	err := Interrupted(ctx)
	var exit *ExitError
	assert.False(t, errors.As(err, &exit))
	assert.ErrorIs(t, err, context.Canceled)
	assert.EqualError(t, err, "interrupted: context canceled")
}

func TestExitErrorMessage(t *testing.T) {
	t.Parallel()
	assert.EqualError(t, &ExitError{Code: 3}, "exit status 3")
	assert.EqualError(t, &ExitError{Code: 130, Err: &SignalError{Signal: syscall.SIGINT}}, "exit status 130: received interrupt")
}
