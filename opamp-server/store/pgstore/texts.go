package pgstore

import (
	"context"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/phoenix/platform/opamp-server/store"
)

// textDeltas are the changes to the reference counts of stored texts that
// one transaction makes: by hash, the net change and, for the hashes it
// references anew, the text.
type textDeltas struct {
	delta map[string]int64
	text  map[string]string
}

func newTextDeltas() textDeltas {
	return textDeltas{delta: map[string]int64{}, text: map[string]string{}}
}

func (d textDeltas) ref(hash, text string) {
	d.delta[hash]++
	d.text[hash] = text
}

func (d textDeltas) unref(hash string) { d.delta[hash]-- }

// queueCounts queues the count changes, one statement per hash whose count
// changes, in hash order: concurrent writers lock text rows in one order,
// so they wait for each other and never deadlock. A text referenced anew
// is inserted, or its count raised; a count may reach 0 here, and
// queueDrops deletes such texts once no row references them. A hash whose
// references this transaction both adds and drops is not touched: the rows
// of its agents, which this transaction holds, keep it referenced.
func (d textDeltas) queueCounts(batch *pgx.Batch) (dropped []string) {
	hashes := make([]string, 0, len(d.delta))
	for h, n := range d.delta {
		if n != 0 {
			hashes = append(hashes, h)
		}
	}
	slices.Sort(hashes)
	for _, h := range hashes {
		switch n := d.delta[h]; {
		case n > 0:
			batch.Queue(`INSERT INTO config_texts (hash, text, refs) VALUES ($1, $2, $3)
				ON CONFLICT (hash) DO UPDATE SET refs = config_texts.refs + EXCLUDED.refs`, h, d.text[h], n)
		default:
			batch.Queue(`UPDATE config_texts SET refs = refs + $2 WHERE hash = $1`, h, n).
				Exec(func(tag pgconn.CommandTag) error {
					if tag.RowsAffected() != 1 {
						return fmt.Errorf("text %s: no stored text to unreference", h)
					}
					return nil
				})
			dropped = append(dropped, h)
		}
	}
	return dropped
}

// queueDrops queues the deletion of the texts among dropped whose count
// reached 0.
func queueDrops(batch *pgx.Batch, dropped []string) {
	if len(dropped) > 0 {
		batch.Queue(`DELETE FROM config_texts WHERE hash = ANY($1) AND refs = 0`, dropped)
	}
}

// unrefDeleted drops the references of deleted assignments (their text
// hashes, one per row) in one batch.
func unrefDeleted(ctx context.Context, tx pgx.Tx, hashes []string) error {
	if len(hashes) == 0 {
		return nil
	}
	d := newTextDeltas()
	for _, h := range hashes {
		d.unref(h)
	}
	batch := &pgx.Batch{}
	queueDrops(batch, d.queueCounts(batch))
	if err := tx.SendBatch(ctx, batch).Close(); err != nil {
		return fmt.Errorf("unreference texts: %w", err)
	}
	return nil
}

var _ store.TextCounter = (*Store)(nil)

// CountTexts returns how many texts the store holds and the sum of their
// reference counts (store.TextCounter, for tests).
func (s *Store) CountTexts(ctx context.Context) (texts int, refs int64, err error) {
	err = s.read(ctx, func() error {
		return s.pool.QueryRow(ctx, `SELECT count(*), coalesce(sum(refs), 0) FROM config_texts`).Scan(&texts, &refs)
	})
	return texts, refs, err
}
