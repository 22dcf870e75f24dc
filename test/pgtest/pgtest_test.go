package pgtest

import (
	"context"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMain(m *testing.M) { Main(m) }

func query(t *testing.T, dsn, sql string, args ...any) string {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), dsn)
	require.NoError(t, err)
	defer conn.Close(context.Background())
	var out string
	require.NoError(t, conn.QueryRow(t.Context(), sql, args...).Scan(&out))
	return out
}

func TestStart(t *testing.T) {
	t.Parallel()
	var dsn, dataDir string
	t.Run("running", func(t *testing.T) {
		dsn = Start(t)
		cfg, err := pgx.ParseConfig(dsn)
		require.NoError(t, err)
		assert.Equal(t, "127.0.0.1", cfg.Host)
		assert.Contains(t, query(t, dsn, "SELECT version()"), "PostgreSQL")
		assert.Equal(t, "127.0.0.1", query(t, dsn, "SHOW listen_addresses"))
		assert.Equal(t, "off", query(t, dsn, "SHOW fsync"))
		assert.Equal(t, "UTF8", query(t, dsn, "SHOW server_encoding"))
		assert.Equal(t, "0", query(t, dsn, "SELECT count(*)::text FROM pg_tables WHERE schemaname = 'public'"), "a fresh database")

		dataDir = query(t, dsn, "SHOW data_directory")
		fi, err := os.Stat(dataDir)
		require.NoError(t, err)
		if os.Geteuid() == 0 {
			assert.NotEqual(t, uint32(0), fi.Sys().(*syscall.Stat_t).Uid, "the server does not run as root")
		}
	})
	_, err := pgx.Connect(t.Context(), dsn)
	assert.Error(t, err, "stopped at cleanup")
	_, err = os.Stat(filepath.Dir(dataDir))
	assert.True(t, os.IsNotExist(err), "its directory removed at cleanup")
}

func TestStartShared(t *testing.T) {
	var first string
	t.Run("first", func(t *testing.T) {
		first = StartShared(t)
		second := StartShared(t)
		assert.NotEqual(t, query(t, first, "SELECT current_database()"), query(t, second, "SELECT current_database()"))
		port := func(dsn string) uint16 {
			cfg, err := pgx.ParseConfig(dsn)
			require.NoError(t, err)
			return cfg.Port
		}
		assert.Equal(t, port(first), port(second), "one server")
	})
	cfg, err := pgx.ParseConfig(first)
	require.NoError(t, err)
	db := cfg.Database
	cfg.Database = "postgres"
	conn, err := pgx.ConnectConfig(t.Context(), cfg)
	require.NoError(t, err, "the shared server outlives the test")
	defer conn.Close(context.Background())
	var n int
	require.NoError(t, conn.QueryRow(t.Context(), "SELECT count(*) FROM pg_database WHERE datname = $1", db).Scan(&n))
	assert.Zero(t, n, "the database is dropped at cleanup")
}

func TestFailedStartShowsServerLog(t *testing.T) {
	t.Parallel()
	_, err := startCluster("-c", "no_such_setting=1")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "server log:")
	assert.Contains(t, err.Error(), `unrecognized configuration parameter "no_such_setting"`)
}

func TestMissingBinariesNameThePackage(t *testing.T) {
	empty := t.TempDir()
	_, err := firstBinDir([]string{empty})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "postgresql-15")
	assert.Contains(t, err.Error(), empty)

	dir, err := findBinDir()
	require.NoError(t, err)
	assert.True(t, strings.HasSuffix(dir, "bin"), dir)
}

func TestServerCredential(t *testing.T) {
	cred, err := serverCredential()
	require.NoError(t, err)
	if os.Geteuid() != 0 {
		assert.Nil(t, cred, "an unprivileged user runs the server as itself")
		return
	}
	require.NotNil(t, cred, "root hands the server to another user")
	assert.NotZero(t, cred.Uid)
	u, err := user.LookupId(strconv.FormatUint(uint64(cred.Uid), 10))
	require.NoError(t, err)
	assert.Contains(t, []string{"postgres", "nobody"}, u.Username)
}
