package boltstore_test

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/phoenix/platform/opamp-server/store"
	"github.com/phoenix/platform/opamp-server/store/boltstore"
	"github.com/phoenix/platform/opamp-server/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		s, err := boltstore.Open(filepath.Join(t.TempDir(), "phoenix.db"))
		require.NoError(t, err)
		return s
	})
}

func BenchmarkQuerySamplesAgentWindow(b *testing.B) {
	s, err := boltstore.Open(filepath.Join(b.TempDir(), "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	storetest.BenchmarkAgentWindow(b, s)
}

func BenchmarkQueryAgentsSamples(b *testing.B) {
	s, err := boltstore.Open(filepath.Join(b.TempDir(), "bench-agents.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	storetest.BenchmarkAgentsWindows(b, s)
}

func BenchmarkSetAssignments(b *testing.B) {
	s, err := boltstore.Open(filepath.Join(b.TempDir(), "bench-assignments.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	storetest.BenchmarkSetAssignments(b, s)
}
