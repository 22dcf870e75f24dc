package pgstore

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/phoenix/platform/opamp-server/store"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// migrationLockID is the advisory lock replicas take while migrating, so
// several starting at once apply each migration exactly once.
const migrationLockID int64 = 0x70686f656e6978 // "phoenix"

type migration struct {
	version int
	name    string
	sql     string
	// after runs in the migration's transaction once its SQL has: the part
	// of a migration SQL cannot do, such as re-encoding documents in Go.
	after func(context.Context, pgx.Tx) error
}

// migrationSteps are the Go steps of migrations, by version.
var migrationSteps = map[int]func(context.Context, pgx.Tx) error{
	7: canonicalizeDocuments,
}

// loadMigrations returns the embedded migrations in version order. Files are
// named NNNN_description.sql and numbered 1, 2, … without gaps.
func loadMigrations() ([]migration, error) {
	entries, err := fs.ReadDir(migrationFiles, "migrations")
	if err != nil {
		return nil, err
	}
	var out []migration
	for _, e := range entries { // ReadDir sorts by name
		prefix, _, ok := strings.Cut(e.Name(), "_")
		version, err := strconv.Atoi(prefix)
		if !ok || err != nil || version != len(out)+1 {
			return nil, fmt.Errorf("migration %s: want NNNN_name.sql numbered %d", e.Name(), len(out)+1)
		}
		sql, err := migrationFiles.ReadFile(path.Join("migrations", e.Name()))
		if err != nil {
			return nil, err
		}
		out = append(out, migration{version: version, name: e.Name(), sql: string(sql), after: migrationSteps[version]})
	}
	return out, nil
}

// migrate applies the migrations the database lacks, all in one transaction
// under an advisory lock, and refuses a database newer than this binary.
func migrate(ctx context.Context, pool *pgxpool.Pool) error {
	migrations, err := loadMigrations()
	if err != nil {
		return err
	}
	return apply(ctx, pool, migrations)
}

// apply is migrate with the given migrations: the first versions of a
// schema, for a test of a database an older server left.
func apply(ctx context.Context, pool *pgxpool.Pool, migrations []migration) error {
	latest := len(migrations)
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", migrationLockID); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			version    integer PRIMARY KEY,
			name       text NOT NULL,
			applied_at timestamptz NOT NULL DEFAULT now()
		)`); err != nil {
			return err
		}
		var current int
		if err := tx.QueryRow(ctx, "SELECT coalesce(max(version), 0) FROM schema_migrations").Scan(&current); err != nil {
			return err
		}
		if current > latest {
			return fmt.Errorf("database schema version %d is newer than this phoenix server supports (%d): upgrade phoenix", current, latest)
		}
		for _, m := range migrations[current:] {
			if _, err := tx.Exec(ctx, m.sql); err != nil {
				return fmt.Errorf("migration %s: %w", m.name, err)
			}
			if m.after != nil {
				if err := m.after(ctx, tx); err != nil {
					return fmt.Errorf("migration %s: %w", m.name, err)
				}
			}
			if _, err := tx.Exec(ctx, "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", m.version, m.name); err != nil {
				return fmt.Errorf("migration %s: %w", m.name, err)
			}
		}
		return nil
	})
}

// canonicalizeDocuments rewrites the documents migration 7 turned from jsonb
// into text in their canonical form, which reads return without re-encoding.
func canonicalizeDocuments(ctx context.Context, tx pgx.Tx) error {
	if err := canonicalizeColumns(ctx, tx, "experiments", "spec", "state"); err != nil {
		return err
	}
	return canonicalizeColumns(ctx, tx, "rollouts", "doc")
}

// canonicalizeColumns rewrites table's JSON text columns canonical, one row
// at a time: an experiment's state can be tens of MiB.
func canonicalizeColumns(ctx context.Context, tx pgx.Tx, table string, columns ...string) error {
	sets := make([]string, len(columns))
	for i, c := range columns {
		sets[i] = fmt.Sprintf("%s = $%d", c, i+2)
	}
	selectNext := "SELECT id, " + strings.Join(columns, ", ") + " FROM " + table + " WHERE id > $1 ORDER BY id LIMIT 1"
	update := "UPDATE " + table + " SET " + strings.Join(sets, ", ") + " WHERE id = $1"
	docs := make([][]byte, len(columns))
	dest := make([]any, len(columns)+1)
	args := make([]any, len(columns)+1)
	for i := range docs {
		dest[i+1] = &docs[i]
	}
	var id string
	dest[0] = &id
	for {
		err := tx.QueryRow(ctx, selectNext, id).Scan(dest...)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		args[0] = id
		for i, doc := range docs {
			canonical, err := store.CanonicalJSON(table+" "+id+" "+columns[i], doc)
			if err != nil {
				return err
			}
			args[i+1] = nullableJSON(canonical)
		}
		if _, err := tx.Exec(ctx, update, args...); err != nil {
			return err
		}
	}
}
