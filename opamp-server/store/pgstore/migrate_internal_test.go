package pgstore

import (
	"encoding/json"
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

// atSchema is a new database migrated to version n, and a pool on it.
func atSchema(t *testing.T, n int) (string, *pgxpool.Pool) {
	t.Helper()
	dsn := pgtest.StartShared(t)
	pool, err := pgxpool.New(t.Context(), dsn)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	migrations, err := loadMigrations()
	require.NoError(t, err)
	require.NoError(t, apply(t.Context(), pool, migrations[:n]))
	return dsn, pool
}

// A database at schema version 5 keeps its samples when its samples are
// keyed by agent and minute (migration 6), and writes still replace.
func TestSamplesKeptAcrossTheirRekeying(t *testing.T) {
	ctx := t.Context()
	dsn, pool := atSchema(t, 5)
	minute := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	_, err := pool.Exec(ctx, `INSERT INTO samples (instance_uid, name, variant, minute, value)
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

// Documents a schema-6 server wrote as jsonb read back after migration 7
// byte for byte as that server returned them: canonical, though jsonb
// printed them in its own key order and spacing.
func TestDocumentsCanonicalAcrossTheirConversionToText(t *testing.T) {
	ctx := t.Context()
	dsn, pool := atSchema(t, 6)
	// Keys jsonb orders by length first, numbers it rewrites, characters
	// encoding/json would escape as HTML.
	spec := `{"name":"x","baseline":{"pipeline":"a<b>&c"},"zz":1e2,"a":[1.50,{"bb":true,"c":null}]}`
	state := `{"targets":[{"instance_uid":"a1","previous":{"parameters":{"long_key":"é","k":1.0e-1}}}],"start_requested":true}`
	created := time.Date(2026, 12, 1, 10, 0, 0, 123456000, time.UTC)
	_, err := pool.Exec(ctx, `INSERT INTO experiments (id, name, status, spec, state, version, created_at, updated_at)
		VALUES ('e1', 'x', 'running', $1, $2, 3, $3, $3), ('e2', 'y', 'pending', $1, NULL, 1, $3, $3)`, spec, state, created)
	require.NoError(t, err)
	_, err = pool.Exec(ctx, `INSERT INTO rollouts (id, active, doc, version, created_at, updated_at)
		VALUES ('r1', true, $1, 2, $2, $2)`, state, created)
	require.NoError(t, err)
	canonical := func(doc string) json.RawMessage {
		c, err := store.CanonicalJSON("doc", []byte(doc))
		require.NoError(t, err)
		return c
	}

	s, err := Open(ctx, dsn)
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	got, err := s.GetExperiment(ctx, "e1")
	require.NoError(t, err)
	assert.Equal(t, store.Experiment{ID: "e1", Name: "x", Status: apitypes.ExperimentRunning,
		Spec: canonical(spec), State: canonical(state), Version: 3, CreatedAt: created, UpdatedAt: created}, got)
	got, err = s.GetExperiment(ctx, "e2")
	require.NoError(t, err)
	assert.Equal(t, string(canonical(spec)), string(got.Spec))
	assert.Nil(t, got.State, "a NULL state stays NULL")
	r, err := s.GetRollout(ctx, "r1")
	require.NoError(t, err)
	assert.Equal(t, string(canonical(state)), string(r.Doc))

	// What the text holds is what the writes store: a rewrite changes nothing.
	got, err = s.GetExperiment(ctx, "e1")
	require.NoError(t, err)
	updated, err := s.UpdateExperiment(ctx, got)
	require.NoError(t, err)
	assert.Equal(t, string(got.State), string(updated.State))
}
