// Package storeopen opens the store a phoenix server's --store flag names.
// It lives apart from package store because it imports both
// implementations, which themselves import store.
package storeopen // import "github.com/phoenix/platform/opamp-server/store/storeopen"

import (
	"context"
	"errors"
	"log/slog"
	"strings"

	"github.com/phoenix/platform/opamp-server/store"
	"github.com/phoenix/platform/opamp-server/store/boltstore"
	"github.com/phoenix/platform/opamp-server/store/pgstore"
)

// Open opens the store at location: a postgres:// or postgresql:// URL
// opens the PostgreSQL store (migrating its schema), anything else is the
// path of the embedded store's file. logger (nil for none) receives the
// PostgreSQL store's notification-connection events.
func Open(ctx context.Context, location string, logger *slog.Logger) (store.Store, error) {
	if location == "" {
		return nil, errors.New("store location is empty: give a file path or a postgres:// URL")
	}
	if IsPostgres(location) {
		var opts []pgstore.Option
		if logger != nil {
			opts = append(opts, pgstore.WithLogger(logger))
		}
		return pgstore.Open(ctx, location, opts...)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return boltstore.Open(location)
}

// IsPostgres reports whether location names a PostgreSQL database.
func IsPostgres(location string) bool {
	scheme, _, ok := strings.Cut(location, "://")
	return ok && (strings.EqualFold(scheme, "postgres") || strings.EqualFold(scheme, "postgresql"))
}
