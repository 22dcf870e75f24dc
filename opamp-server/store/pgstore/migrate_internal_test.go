package pgstore

import (
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/phoenix/platform/opamp-server/apitypes"
	"github.com/phoenix/platform/opamp-server/store"
	"github.com/phoenix/platform/test/pgtest"
)

func TestMigrationFiles(t *testing.T) {
	migrations, err := loadMigrations()
	require.NoError(t, err)
	require.NotEmpty(t, migrations)
	for i, m := range migrations {
		assert.Equal(t, i+1, m.version, m.name)
		assert.True(t, strings.HasSuffix(m.name, ".sql"), m.name)
		assert.NotEmpty(t, strings.TrimSpace(m.sql), m.name)
	}
}

// A database at schema version 5 keeps its samples when its samples are
// keyed by agent and minute (migration 6), and writes still replace.
func TestSamplesKeptAcrossTheirRekeying(t *testing.T) {
	ctx := t.Context()
	dsn := pgtest.StartShared(t)
	pool, err := pgxpool.New(ctx, dsn)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	migrations, err := loadMigrations()
	require.NoError(t, err)
	require.NoError(t, apply(ctx, pool, migrations[:5]))
	minute := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	_, err = pool.Exec(ctx, `INSERT INTO samples (instance_uid, name, variant, minute, value)
		VALUES ('a', 'cpu', '', $1, 1), ('a', 'cpu', 'candidate', $1, 2), ('a', 'cpu', '', $2, 3)`, minute, minute.Add(time.Minute))
	require.NoError(t, err)

	s, err := Open(ctx, dsn)
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	require.NoError(t, s.PutSamples(ctx, []apitypes.Sample{{InstanceUID: "a", Name: "cpu", Minute: minute, Value: 10}}))
	got, err := s.QuerySamples(ctx, store.SampleQuery{InstanceUID: "a"})
	require.NoError(t, err)
	assert.Equal(t, []apitypes.Sample{
		{InstanceUID: "a", Name: "cpu", Minute: minute, Value: 10},
		{InstanceUID: "a", Name: "cpu", Minute: minute.Add(time.Minute), Value: 3},
		{InstanceUID: "a", Name: "cpu", Variant: "candidate", Minute: minute, Value: 2},
	}, got)
}
