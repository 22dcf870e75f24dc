package storetest

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/phoenix/platform/opamp-server/apitypes"
	"github.com/phoenix/platform/opamp-server/store"
)

var lifecycleTests = []testCase{
	{"Ping", testPing},
	{"CancelledContext", testCancelledContext},
	{"ConcurrentWriters", testConcurrentWriters},
	{"UseAfterClose", testUseAfterClose},
}

func testPing(t *testing.T, s store.Store) {
	assert.NoError(t, s.Ping(t.Context()))
	assert.Error(t, s.Ping(cancelled(t)))
}

func testCancelledContext(t *testing.T, s store.Store) {
	ctx := cancelled(t)
	assert.ErrorIs(t, s.UpsertAgent(ctx, fullAgent("a1")), context.Canceled)
	_, err := s.SetAssignment(ctx, apitypes.Assignment{InstanceUID: "a1", Config: testConfig})
	assert.ErrorIs(t, err, context.Canceled)
	assert.ErrorIs(t, s.PutSamples(ctx, sampleFixture), context.Canceled)
	_, err = s.CreateExperiment(ctx, newExperiment("e1"))
	assert.ErrorIs(t, err, context.Canceled)
	_, err = s.GetAgent(ctx, "a1")
	assert.ErrorIs(t, err, context.Canceled)
	_, _, err = s.ListAgents(ctx, store.AgentFilter{}, store.Page{})
	assert.ErrorIs(t, err, context.Canceled)
	_, err = s.QuerySamples(ctx, store.SampleQuery{})
	assert.ErrorIs(t, err, context.Canceled)
	_, err = s.QueryAgentsSamples(ctx, []string{"a"}, store.SampleQuery{})
	assert.ErrorIs(t, err, context.Canceled)

	_, err = s.GetAgent(t.Context(), "a1")
	assert.ErrorIs(t, err, store.ErrNotFound, "nothing was written")
	_, err = s.GetAssignment(t.Context(), "a1")
	assert.ErrorIs(t, err, store.ErrNotFound)
	_, err = s.GetExperiment(t.Context(), "e1")
	assert.ErrorIs(t, err, store.ErrNotFound)
	samples, err := s.QuerySamples(t.Context(), store.SampleQuery{})
	require.NoError(t, err)
	assert.Empty(t, samples)
}

// testConcurrentWriters races writers of every record type; run with -race.
func testConcurrentWriters(t *testing.T, s store.Store) {
	const writers, perWriter = 6, 8
	var (
		mu          sync.Mutex
		generations []int64
		wg          sync.WaitGroup
	)
	watch, err := s.Watch(t.Context())
	require.NoError(t, err)
	for w := range writers {
		wg.Go(func() {
			ctx := t.Context()
			for i := range perWriter {
				uid := fmt.Sprintf("w%d-a%d", w, i)
				if !assert.NoError(t, s.UpsertAgent(ctx, fullAgent(uid))) {
					return
				}
				a, err := s.SetAssignment(ctx, apitypes.Assignment{InstanceUID: "shared", Config: testConfig})
				if !assert.NoError(t, err) {
					return
				}
				mu.Lock()
				generations = append(generations, a.Generation)
				mu.Unlock()
				err = s.PutSamples(ctx, []apitypes.Sample{sample(uid, "cpu", "", i, float64(w))})
				if !assert.NoError(t, err) {
					return
				}
				_, _, err = s.ListAgents(ctx, store.AgentFilter{}, store.Page{Limit: 5})
				assert.NoError(t, err)
			}
		})
	}
	wg.Wait()

	slices.Sort(generations)
	want := make([]int64, writers*perWriter)
	for i := range want {
		want[i] = int64(i + 1)
	}
	assert.Equal(t, want, generations, "every generation once")
	a, err := s.GetAssignment(t.Context(), "shared")
	require.NoError(t, err)
	assert.Equal(t, int64(writers*perWriter), a.Generation)

	uids, _ := listAllAgents(t, s, store.AgentFilter{}, 17)
	assert.Len(t, uids, writers*perWriter)
	samples, err := s.QuerySamples(t.Context(), store.SampleQuery{Name: "cpu"})
	require.NoError(t, err)
	assert.Len(t, samples, writers*perWriter)

	// Far fewer changes than a watcher buffers: none is dropped.
	kinds := map[store.ChangeKind]int{}
	for range 2 * writers * perWriter {
		kinds[nextChange(t, watch).Kind]++
	}
	assert.Equal(t, map[store.ChangeKind]int{
		store.ChangeAgent:      writers * perWriter,
		store.ChangeAssignment: writers * perWriter,
	}, kinds)
}

func testUseAfterClose(t *testing.T, s store.Store) {
	watch, err := s.Watch(t.Context())
	require.NoError(t, err)
	require.NoError(t, s.Close())
	waitClosed(t, watch)
	assert.NoError(t, s.Close(), "Close is idempotent")

	ctx := t.Context()
	_, getErr := s.GetAgent(ctx, "a1")
	_, _, listErr := s.ListAgents(ctx, store.AgentFilter{}, store.Page{})
	_, setErr := s.SetAssignment(ctx, apitypes.Assignment{InstanceUID: "a1", Config: testConfig})
	_, getAssignErr := s.GetAssignment(ctx, "a1")
	_, queryErr := s.QuerySamples(ctx, store.SampleQuery{})
	_, agentsQueryErr := s.QueryAgentsSamples(ctx, []string{"a1"}, store.SampleQuery{})
	_, createErr := s.CreateExperiment(ctx, newExperiment("e1"))
	_, getExpErr := s.GetExperiment(ctx, "e1")
	_, _, listExpErr := s.ListExperiments(ctx, store.ExperimentFilter{}, store.Page{})
	_, updateErr := s.UpdateExperiment(ctx, newExperiment("e1"))
	_, appendErr := s.AppendExperimentEvent(ctx, apitypes.ExperimentEvent{ExperimentID: "e1", Cause: "x"})
	_, eventsErr := s.ListExperimentEvents(ctx, "e1")
	_, watchErr := s.Watch(ctx)
	for name, err := range map[string]error{
		"UpsertAgent":             s.UpsertAgent(ctx, fullAgent("a1")),
		"GetAgent":                getErr,
		"ListAgents":              listErr,
		"MarkServerAgentsOffline": s.MarkServerAgentsOffline(ctx, "replica-1"),
		"SetAssignment":           setErr,
		"GetAssignment":           getAssignErr,
		"DeleteAssignment":        s.DeleteAssignment(ctx, "a1"),
		"PutSamples":              s.PutSamples(ctx, sampleFixture),
		"QuerySamples":            queryErr,
		"QueryAgentsSamples":      agentsQueryErr,
		"DeleteSamplesBefore":     s.DeleteSamplesBefore(ctx, time.Now()),
		"CreateExperiment":        createErr,
		"GetExperiment":           getExpErr,
		"ListExperiments":         listExpErr,
		"UpdateExperiment":        updateErr,
		"AppendExperimentEvent":   appendErr,
		"ListExperimentEvents":    eventsErr,
		"Watch":                   watchErr,
		"Ping":                    s.Ping(ctx),
	} {
		assert.ErrorIs(t, err, store.ErrClosed, name)
	}
}
