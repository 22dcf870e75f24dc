package assignment

import (
	"fmt"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/phoenix/platform/opamp-server/apitypes"
	"github.com/phoenix/platform/opamp-server/store"
	"github.com/phoenix/platform/pipelines/catalog"
)

// A stamped rendering is byte for byte what rendering for that agent gives,
// and a fleet sharing its parameters costs one render.
func TestRenderOncePerParameterSet(t *testing.T) {
	t.Parallel()
	s, st, _ := newService(t)
	ctx := t.Context()
	params := map[string]any{"k": 7, "collection_interval": "15s"}
	var uids []string
	for i := range 20 {
		uid := uuid.NewString()
		labels := map[string]string{}
		if i%2 == 1 {
			labels[apitypes.AgentParamLabelPrefix+"health_check_endpoint"] = "127.0.0.1:13134"
		}
		require.NoError(t, st.UpsertAgent(ctx, apitypes.Agent{InstanceUID: uid, Labels: labels}))
		uids = append(uids, uid)
	}
	for _, uid := range uids {
		got, err := s.Render(ctx, uid, "topk", params)
		require.NoError(t, err)
		direct, err := s.set.Catalog.Render(ctx, "topk", s.withAgentParams(ctx, "topk", uid, params))
		require.NoError(t, err)
		assert.Equal(t, string(direct.Config), got.Config, "agent %s", uid)
		assert.Equal(t, direct.Hash, got.ConfigHash)
		assert.Equal(t, store.HashConfig([]byte(got.Config)), got.ConfigHash)
		assert.Equal(t, uid, got.Parameters["instance_id"])
		assert.NotContains(t, got.Config, instancePlaceholder)
	}
	assert.Equal(t, 2, s.renders.renders, "one render per distinct parameter set: with and without the label")

	for _, uid := range uids[:4] {
		spec := catalog.PairedSpec{Baseline: catalog.Ref{Pipeline: "baseline"}, Candidate: catalog.Ref{Pipeline: "topk-rollup"}}
		got, err := s.RenderPaired(ctx, uid, spec)
		require.NoError(t, err)
		spec.Shared = s.withAgentParams(ctx, "baseline", uid, nil)
		direct, err := s.set.Catalog.RenderPaired(ctx, spec)
		require.NoError(t, err)
		assert.Equal(t, string(direct.Config), got.Config)
		assert.Equal(t, direct.Hash, got.ConfigHash)
	}
	assert.Equal(t, 4, s.renders.renders, "paired renderings are cached apart, per label set")

	// Specs that differ only in their named candidates are rendered apart.
	uid := uids[0]
	configs := map[string]bool{}
	for _, k := range []int{5, 10} {
		spec := catalog.PairedSpec{Baseline: catalog.Ref{Pipeline: "baseline"},
			Candidates: []catalog.NamedRef{{Name: "k", Pipeline: "topk-rollup", Params: map[string]any{"k": k}}}}
		got, err := s.RenderPaired(ctx, uid, spec)
		require.NoError(t, err)
		configs[got.ConfigHash] = true
	}
	assert.Len(t, configs, 2, "the candidates are part of the cache key")
}

// Instance UIDs that are not UUIDs (tests, hand-made agents) are rendered
// as they are: only a UUID is sure to mean the same in YAML wherever the
// placeholder was.
func TestRenderWithoutAUUIDIsDirect(t *testing.T) {
	t.Parallel()
	s, st, _ := newService(t)
	for _, uid := range []string{"1e5", "true", "agent-1"} {
		require.NoError(t, st.UpsertAgent(t.Context(), apitypes.Agent{InstanceUID: uid}))
		got, err := s.Render(t.Context(), uid, "baseline", nil)
		require.NoError(t, err)
		assert.Equal(t, uid, fmt.Sprint(got.Parameters["instance_id"]))
	}
	assert.Zero(t, s.renders.renders)
}

func TestRenderCacheIsBounded(t *testing.T) {
	t.Parallel()
	var c renderCache
	for i := range maxCachedRenderings + 10 {
		c.put(fmt.Sprint(i), rendering{})
	}
	assert.Len(t, c.entries, maxCachedRenderings)
	assert.Len(t, c.order, maxCachedRenderings)
	_, oldest := c.entries["0"]
	assert.False(t, oldest, "the oldest go first")
}

// BenchmarkRenderFleet measures rendering and checking one pipeline for a
// fleet (the work of a fleet-wide assignment before it is stored), per
// agent: stamped
// from one rendering (UUID instance UIDs, as every enrolled agent has) and,
// for comparison, rendered and validated for each agent (UIDs that are not
// UUIDs): go test -run '^$' -bench RenderFleet ./opamp-server/assignment.
func BenchmarkRenderFleet(b *testing.B) {
	for _, bc := range []struct {
		name   string
		agents int
		uid    func(int) string
	}{
		{"stamped", 1000, func(int) string { return uuid.NewString() }},
		{"per-agent", 50, func(i int) string { return fmt.Sprintf("agent-%d", i) }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			s, st, _ := newService(b)
			ctx := b.Context()
			uids := make([]string, bc.agents)
			for i := range uids {
				uids[i] = bc.uid(i)
				require.NoError(b, st.UpsertAgent(ctx, apitypes.Agent{InstanceUID: uids[i]}))
			}
			req := apitypes.AssignRequest{Pipeline: "topk-rollup", Parameters: map[string]any{"k": 10}}
			for b.Loop() {
				for _, uid := range uids {
					if _, err := s.FromRequest(ctx, uid, req, Grants{}); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(uids)), "ns/agent")
		})
	}
}
