package pgstore

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
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
	conn, err := pgx.Connect(ctx, dsn)
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	migrations, err := loadMigrations()
	require.NoError(t, err)
	_, err = conn.Exec(ctx, `CREATE TABLE schema_migrations (version integer PRIMARY KEY, name text NOT NULL,
		applied_at timestamptz NOT NULL DEFAULT now())`)
	require.NoError(t, err)
	for _, m := range migrations[:5] {
		_, err := conn.Exec(ctx, m.sql)
		require.NoError(t, err, m.name)
		_, err = conn.Exec(ctx, "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", m.version, m.name)
		require.NoError(t, err)
	}
	minute := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	_, err = conn.Exec(ctx, `INSERT INTO samples (instance_uid, name, variant, minute, value)
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
