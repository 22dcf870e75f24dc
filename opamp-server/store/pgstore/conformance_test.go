package pgstore_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/phoenix/platform/opamp-server/store"
	"github.com/phoenix/platform/opamp-server/store/pgstore"
	"github.com/phoenix/platform/opamp-server/store/storetest"
	"github.com/phoenix/platform/test/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		s, err := pgstore.Open(t.Context(), pgtest.StartShared(t))
		require.NoError(t, err)
		return s
	})
}

func BenchmarkQuerySamplesAgentWindow(b *testing.B) {
	s, err := pgstore.Open(b.Context(), pgtest.StartShared(b))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	storetest.BenchmarkAgentWindow(b, s)
}

func BenchmarkQueryAgentsSamples(b *testing.B) {
	s, err := pgstore.Open(b.Context(), pgtest.StartShared(b))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	storetest.BenchmarkAgentsWindows(b, s)
}

func BenchmarkSetAssignments(b *testing.B) {
	s, err := pgstore.Open(b.Context(), pgtest.StartShared(b))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	storetest.BenchmarkSetAssignments(b, s)
}
