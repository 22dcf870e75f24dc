package watchhub

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/phoenix/platform/opamp-server/store"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func change(id string) store.Change { return store.Change{Kind: store.ChangeAgent, ID: id} }

// receive returns the next change; the deadline only guards against a hang.
func receive(t *testing.T, ch <-chan store.Change) (store.Change, bool) {
	t.Helper()
	select {
	case c, ok := <-ch:
		return c, ok
	case <-time.After(10 * time.Second):
		require.FailNow(t, "nothing received")
		return store.Change{}, false
	}
}

func TestFanOut(t *testing.T) {
	h := New()
	defer h.Close()
	a, err := h.Subscribe(t.Context())
	require.NoError(t, err)
	b, err := h.Subscribe(t.Context())
	require.NoError(t, err)
	h.Publish(change("1"))
	h.Publish(change("2"))
	for _, ch := range []<-chan store.Change{a, b} {
		for _, want := range []string{"1", "2"} {
			got, ok := receive(t, ch)
			require.True(t, ok)
			assert.Equal(t, change(want), got)
		}
	}
}

func TestSlowWatcherGetsResync(t *testing.T) {
	h := New()
	defer h.Close()
	slow, err := h.Subscribe(t.Context())
	require.NoError(t, err)
	for range Buffer + 10 {
		h.Publish(change("x")) // never blocks, though nobody reads
	}
	for range Buffer {
		got, ok := receive(t, slow)
		require.True(t, ok)
		assert.Equal(t, change("x"), got)
	}
	got, ok := receive(t, slow)
	require.True(t, ok)
	assert.Equal(t, store.Change{Kind: store.ChangeResync}, got, "the gap is announced")

	// Drops while the resync waited for room may add one more resync.
	h.Publish(change("after"))
	if got, _ = receive(t, slow); got.Kind == store.ChangeResync {
		got, _ = receive(t, slow)
	}
	assert.Equal(t, change("after"), got, "delivery resumes after the resync")
}

func TestResync(t *testing.T) {
	h := New()
	defer h.Close()
	ch, err := h.Subscribe(t.Context())
	require.NoError(t, err)
	h.Resync()
	got, _ := receive(t, ch)
	assert.Equal(t, store.ChangeResync, got.Kind)
	h.Publish(change("next"))
	got, _ = receive(t, ch)
	assert.Equal(t, change("next"), got)
}

func TestContextEndsWatcher(t *testing.T) {
	h := New()
	defer h.Close()
	ctx, cancel := context.WithCancel(t.Context())
	ch, err := h.Subscribe(ctx)
	require.NoError(t, err)
	other, err := h.Subscribe(t.Context())
	require.NoError(t, err)
	cancel()
	_, ok := receive(t, ch)
	assert.False(t, ok, "closed when its context ends")
	h.Publish(change("1"))
	got, ok := receive(t, other)
	assert.True(t, ok)
	assert.Equal(t, change("1"), got)
}

func TestClose(t *testing.T) {
	h := New()
	ch, err := h.Subscribe(t.Context())
	require.NoError(t, err)
	h.Resync() // a pending resync does not hold Close up
	h.Close()
	for {
		if _, ok := receive(t, ch); !ok {
			break
		}
	}
	h.Close()
	h.Publish(change("ignored"))
	_, err = h.Subscribe(t.Context())
	assert.ErrorIs(t, err, store.ErrClosed)
}
