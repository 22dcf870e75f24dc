package pgstore

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/phoenix/platform/opamp-server/apitypes"
	"github.com/phoenix/platform/opamp-server/store"
	"github.com/phoenix/platform/test/pgtest"
)

// Writes that arrive together share a transaction, and one that fails
// fails alone: the others are retried and commit.
func TestGroupedWritesFailAlone(t *testing.T) {
	s, err := Open(t.Context(), pgtest.StartShared(t))
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })

	const n = 40
	bad := errors.New("refused")
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			errs[i] = s.writeGrouped(t.Context(), func(ctx context.Context, tx pgx.Tx) ([]store.Change, error) {
				if i == 7 {
					return nil, bad
				}
				_, err := tx.Exec(ctx, `INSERT INTO agents (instance_uid, description, capabilities, effective_config,
					effective_config_hash, remote_config, connection_type, online, server_id, sequence_num, first_seen, last_seen)
					VALUES ($1, '{}', 0, '', '', '{}', '', false, '', 0, now(), now())`, fmt.Sprintf("g%02d", i))
				return nil, err
			})
		})
	}
	wg.Wait()
	for i, err := range errs {
		if i == 7 {
			assert.ErrorIs(t, err, bad)
			continue
		}
		assert.NoError(t, err, "write %d", i)
	}
	var stored int
	require.NoError(t, s.pool.QueryRow(t.Context(), `SELECT count(*) FROM agents WHERE instance_uid LIKE 'g%'`).Scan(&stored))
	assert.Equal(t, n-1, stored)

	// And writes do share: 39 good ones in few transactions.
	for i := range n {
		wg.Go(func() {
			assert.NoError(t, s.UpsertAgent(t.Context(), apitypes.Agent{InstanceUID: fmt.Sprintf("h%02d", i)}))
		})
	}
	wg.Wait()
	assert.Positive(t, s.groups.shared.Load(), "no transaction carried more than one write")
}
