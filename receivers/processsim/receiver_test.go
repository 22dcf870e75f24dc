package processsim

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/receiver/receivertest"
	"go.opentelemetry.io/collector/scraper/scraperhelper"

	"github.com/phoenix/platform/receivers/processsim/internal/metadata"
	"github.com/phoenix/platform/receivers/processsim/profiles"
)

// TestReceiverEmitsOnEachTick drives the receiver through the scraper
// controller, as the collector runs it: one scrape at start, then one per tick.
func TestReceiverEmitsOnEachTick(t *testing.T) {
	cfg := configFor(profiles.Custom, 1)
	cfg.Custom = profiles.Params{Processes: ptr(25)}
	sink := new(consumertest.MetricsSink)
	ticks := make(chan time.Time)
	rcv, err := newReceiver(receivertest.NewNopSettings(metadata.Type), cfg, sink, scraperhelper.WithTickerChannel(ticks))
	require.NoError(t, err)
	require.NoError(t, rcv.Start(t.Context(), componenttest.NewNopHost()))
	defer func() { require.NoError(t, rcv.Shutdown(t.Context())) }()

	ticks <- time.Now()
	ticks <- time.Now()
	require.Eventually(t, func() bool { return len(sink.AllMetrics()) == 3 }, 10*time.Second, 10*time.Millisecond)
	for _, md := range sink.AllMetrics() {
		assert.Equal(t, 25, md.ResourceMetrics().Len())
		assert.Equal(t, 25*7, md.DataPointCount())
	}
}

func TestFactoryRejectsAnInvalidConfig(t *testing.T) {
	cfg := configFor("huge", 0)
	_, err := NewFactory().CreateMetrics(t.Context(), receivertest.NewNopSettings(metadata.Type), cfg, consumertest.NewNop())
	assert.ErrorContains(t, err, "unknown profile")
}
