package storeopen_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/phoenix/platform/opamp-server/store/boltstore"
	"github.com/phoenix/platform/opamp-server/store/pgstore"
	"github.com/phoenix/platform/opamp-server/store/storeopen"
	"github.com/phoenix/platform/test/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func TestOpenEmbedded(t *testing.T) {
	s, err := storeopen.Open(t.Context(), filepath.Join(t.TempDir(), "data", "phoenix.db"), nil)
	require.NoError(t, err)
	defer s.Close()
	assert.IsType(t, &boltstore.Store{}, s)
	assert.NoError(t, s.Ping(t.Context()))
}

func TestOpenPostgres(t *testing.T) {
	dsn := pgtest.StartShared(t)
	for _, location := range []string{dsn, "postgresql" + strings.TrimPrefix(dsn, "postgres")} {
		s, err := storeopen.Open(t.Context(), location, nil)
		require.NoError(t, err, location)
		assert.IsType(t, &pgstore.Store{}, s)
		assert.NoError(t, s.Ping(t.Context()))
		require.NoError(t, s.Close())
	}
}

func TestOpenErrors(t *testing.T) {
	_, err := storeopen.Open(t.Context(), "", nil)
	assert.ErrorContains(t, err, "store location is empty")
	_, err = storeopen.Open(t.Context(), "postgres://%zz", nil)
	assert.Error(t, err)
}

func TestIsPostgres(t *testing.T) {
	for location, want := range map[string]bool{
		"postgres://h/db":     true,
		"POSTGRESQL://h/db":   true,
		"/var/lib/phoenix.db": false,
		"data/postgres://x":   false,
		"postgres.db":         false,
		"host=localhost db=x": false,
	} {
		assert.Equal(t, want, storeopen.IsPostgres(location), location)
	}
}
