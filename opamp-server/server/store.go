package server // import "github.com/phoenix/platform/opamp-server/server"

import (
	"context"

	"github.com/phoenix/platform/opamp-server/store"
	"github.com/phoenix/platform/opamp-server/store/boltstore"
	"github.com/phoenix/platform/opamp-server/store/pgstore"
)

// openStore picks the implementation from the DSN: a postgres:// URL opens
// PostgreSQL (migrating it), anything else is the embedded store's file.
func openStore(ctx context.Context, dsn string) (store.Store, error) {
	if isPostgres(dsn) {
		return pgstore.Open(ctx, dsn)
	}
	return boltstore.Open(dsn)
}
