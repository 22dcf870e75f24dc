package pgstore_test

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/phoenix/platform/opamp-server/apitypes"
	"github.com/phoenix/platform/opamp-server/store"
	"github.com/phoenix/platform/opamp-server/store/pgstore"
	"github.com/phoenix/platform/test/pgtest"
)

func open(t testing.TB, dsn string, opts ...pgstore.Option) *pgstore.Store {
	t.Helper()
	s, err := pgstore.Open(t.Context(), dsn, opts...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// exec runs sql on dsn's database, or on the server's postgres database
// when onServer is set (for statements about the test database itself).
func exec(t *testing.T, dsn string, onServer bool, sql string, args ...any) {
	t.Helper()
	cfg, err := pgx.ParseConfig(dsn)
	require.NoError(t, err)
	if onServer {
		cfg.Database = "postgres"
	}
	conn, err := pgx.ConnectConfig(t.Context(), cfg)
	require.NoError(t, err)
	defer conn.Close(context.Background())
	_, err = conn.Exec(t.Context(), sql, args...)
	require.NoError(t, err)
}

func databaseName(t *testing.T, dsn string) string {
	cfg, err := pgx.ParseConfig(dsn)
	require.NoError(t, err)
	return pgx.Identifier{cfg.Database}.Sanitize()
}

func migrationVersions(t *testing.T, dsn string) []int {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), dsn)
	require.NoError(t, err)
	defer conn.Close(context.Background())
	rows, err := conn.Query(t.Context(), "SELECT version FROM schema_migrations ORDER BY version")
	require.NoError(t, err)
	versions, err := pgx.CollectRows(rows, pgx.RowTo[int])
	require.NoError(t, err)
	return versions
}

func TestMigrationsAreIdempotent(t *testing.T) {
	t.Parallel()
	dsn := pgtest.StartShared(t)
	first := open(t, dsn)
	require.NoError(t, first.UpsertAgent(t.Context(), apitypes.Agent{InstanceUID: "a1"}))
	require.NoError(t, first.Close())

	second := open(t, dsn)
	_, err := second.GetAgent(t.Context(), "a1")
	require.NoError(t, err, "a second Open keeps the data")
	assert.Equal(t, []int{1, 2, 3, 4, 5, 6, 7, 8}, migrationVersions(t, dsn))
}

func TestConcurrentOpensMigrateOnce(t *testing.T) {
	t.Parallel()
	dsn := pgtest.StartShared(t)
	const replicas = 4
	var wg sync.WaitGroup
	for range replicas {
		wg.Go(func() {
			s, err := pgstore.Open(t.Context(), dsn)
			if assert.NoError(t, err) {
				_ = s.Close()
			}
		})
	}
	wg.Wait()
	assert.Equal(t, []int{1, 2, 3, 4, 5, 6, 7, 8}, migrationVersions(t, dsn))
}

func TestNewerSchemaIsRefused(t *testing.T) {
	t.Parallel()
	dsn := pgtest.StartShared(t)
	require.NoError(t, open(t, dsn).Close())
	exec(t, dsn, false, "INSERT INTO schema_migrations (version, name) VALUES (999, '0999_future.sql')")
	_, err := pgstore.Open(t.Context(), dsn)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "database schema version 999 is newer than this phoenix server supports (8): upgrade phoenix")
}

func TestOpenErrors(t *testing.T) {
	t.Parallel()
	_, err := pgstore.Open(t.Context(), "postgres://%zz")
	assert.Error(t, err)

	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	_, err = pgstore.Open(ctx, "postgres://phoenix:s3cret@127.0.0.1:1/phoenix?sslmode=disable&connect_timeout=5")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "connect")
	assert.NotContains(t, err.Error(), "s3cret", "errors never show the password")
}

// TestWatchAcrossReplicas is the cross-replica guarantee: a change written
// through one store reaches the watchers of another on the same database.
func TestWatchAcrossReplicas(t *testing.T) {
	t.Parallel()
	dsn := pgtest.StartShared(t)
	replica1, replica2 := open(t, dsn), open(t, dsn)
	w1, err := replica1.Watch(t.Context())
	require.NoError(t, err)
	w2, err := replica2.Watch(t.Context())
	require.NoError(t, err)

	_, err = replica1.SetAssignment(t.Context(), apitypes.Assignment{InstanceUID: "a1", Config: "x: 1\n"})
	require.NoError(t, err)
	waitChange(t, w2, store.Change{Kind: store.ChangeAssignment, ID: "a1"})

	_, err = replica2.CreateExperiment(t.Context(), store.Experiment{ID: "e1", Status: apitypes.ExperimentPending, Spec: []byte(`{}`)})
	require.NoError(t, err)
	waitChange(t, w1, store.Change{Kind: store.ChangeExperiment, ID: "e1"})
}

// terminateListener kills the store's LISTEN connection server-side, from
// the server's postgres database (the test database may refuse connections).
func terminateListener(t *testing.T, dsn string) {
	t.Helper()
	cfg, err := pgx.ParseConfig(dsn)
	require.NoError(t, err)
	db := cfg.Database
	cfg.Database = "postgres"
	conn, err := pgx.ConnectConfig(t.Context(), cfg)
	require.NoError(t, err)
	defer conn.Close(context.Background())
	var terminated int
	require.NoError(t, conn.QueryRow(t.Context(), `SELECT count(*) FROM (
		SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE application_name = 'phoenix-store-watch' AND datname = $1) t`, db).Scan(&terminated))
	require.Equal(t, 1, terminated, "one LISTEN connection")
}

func TestWatchSurvivesTerminatedConnection(t *testing.T) {
	t.Parallel()
	dsn := pgtest.StartShared(t)
	s := open(t, dsn)
	w, err := s.Watch(t.Context())
	require.NoError(t, err)

	terminateListener(t, dsn)
	waitChange(t, w, store.Change{Kind: store.ChangeResync})
	_, err = s.SetAssignment(t.Context(), apitypes.Assignment{InstanceUID: "a1", Config: "x: 1\n"})
	require.NoError(t, err)
	waitChange(t, w, store.Change{Kind: store.ChangeAssignment, ID: "a1"})
}

func TestWatchRetriesWhileDatabaseRefuses(t *testing.T) {
	t.Parallel()
	dsn := pgtest.StartShared(t)
	logs := make(chan string, 64)
	s := open(t, dsn, pgstore.WithLogger(slog.New(sink(logs))))
	w, err := s.Watch(t.Context())
	require.NoError(t, err)

	db := databaseName(t, dsn)
	exec(t, dsn, true, "ALTER DATABASE "+db+" ALLOW_CONNECTIONS false")
	terminateListener(t, dsn)
	waitLog(t, logs, "store change notifications: reconnect failed")
	exec(t, dsn, true, "ALTER DATABASE "+db+" ALLOW_CONNECTIONS true")

	waitChange(t, w, store.Change{Kind: store.ChangeResync})
	waitLog(t, logs, "store change notifications restored; watchers resync")
	require.NoError(t, s.UpsertAgent(t.Context(), apitypes.Agent{InstanceUID: "a1"}))
	waitChange(t, w, store.Change{Kind: store.ChangeAgent, ID: "a1"})
}

func TestWatchFailsWithoutConnection(t *testing.T) {
	t.Parallel()
	dsn := pgtest.StartShared(t)
	s := open(t, dsn)
	db := databaseName(t, dsn)
	exec(t, dsn, true, "ALTER DATABASE "+db+" ALLOW_CONNECTIONS false")
	_, err := s.Watch(t.Context())
	require.Error(t, err, "the first Watch needs its LISTEN connection")
	assert.Contains(t, err.Error(), "watch")

	exec(t, dsn, true, "ALTER DATABASE "+db+" ALLOW_CONNECTIONS true")
	_, err = s.Watch(t.Context())
	require.NoError(t, err)
}

// sink is a slog handler that forwards messages to a channel.
type sink chan string

func (s sink) Enabled(context.Context, slog.Level) bool { return true }
func (s sink) WithAttrs([]slog.Attr) slog.Handler       { return s }
func (s sink) WithGroup(string) slog.Handler            { return s }
func (s sink) Handle(_ context.Context, r slog.Record) error {
	select {
	case s <- r.Message:
	default:
	}
	return nil
}

func waitLog(t *testing.T, logs <-chan string, want string) {
	t.Helper()
	timeout := time.After(30 * time.Second)
	for {
		select {
		case msg := <-logs:
			if msg == want {
				return
			}
		case <-timeout:
			require.FailNow(t, "no log: "+want)
		}
	}
}

func waitChange(t *testing.T, ch <-chan store.Change, want store.Change) {
	t.Helper()
	timeout := time.After(30 * time.Second)
	for {
		select {
		case c, ok := <-ch:
			require.True(t, ok, "watch closed while waiting for %v", want)
			if c == want {
				return
			}
		case <-timeout:
			require.FailNowf(t, "no change", "want %v", want)
		}
	}
}
