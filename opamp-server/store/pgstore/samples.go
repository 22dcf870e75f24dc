package pgstore

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/phoenix/platform/opamp-server/apitypes"
	"github.com/phoenix/platform/opamp-server/store"
)

// sampleChunk bounds the rows of one INSERT statement.
const sampleChunk = 5000

// PutSamples writes samples in one transaction, replacing values with the
// same key.
func (s *Store) PutSamples(ctx context.Context, samples []apitypes.Sample) error {
	// Normalizing also de-duplicates: ON CONFLICT DO UPDATE refuses to touch
	// one row twice in a statement.
	samples, err := store.NormalizeSamples(samples)
	if err != nil || len(samples) == 0 {
		return err
	}
	return s.write(ctx, func(tx pgx.Tx) ([]store.Change, error) {
		for start := 0; start < len(samples); start += sampleChunk {
			chunk := samples[start:min(start+sampleChunk, len(samples))]
			uids, names, variants := make([]string, len(chunk)), make([]string, len(chunk)), make([]string, len(chunk))
			minutes, values := make([]time.Time, len(chunk)), make([]float64, len(chunk))
			for i, sm := range chunk {
				uids[i], names[i], variants[i], minutes[i], values[i] = sm.InstanceUID, sm.Name, sm.Variant, sm.Minute, sm.Value
			}
			_, err := tx.Exec(ctx, `INSERT INTO samples (instance_uid, name, variant, minute, value)
				SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::float8[])
				ON CONFLICT (instance_uid, name, variant, minute) DO UPDATE SET value = EXCLUDED.value`,
				uids, names, variants, minutes, values)
			if err != nil {
				return nil, err
			}
		}
		return nil, nil
	})
}

// QuerySamples returns matching samples by uid, name, variant and minute.
func (s *Store) QuerySamples(ctx context.Context, sq store.SampleQuery) ([]apitypes.Sample, error) {
	sq, err := store.NormalizeSampleQuery(sq)
	if err != nil {
		return nil, err
	}
	var q query
	if sq.InstanceUID != "" {
		q.where("instance_uid = " + q.arg(sq.InstanceUID))
	}
	q.sampleFilters(sq)
	sql := `SELECT instance_uid, name, variant, minute, value FROM samples` + q.clause() +
		` ORDER BY instance_uid, name, variant, minute`
	out := []apitypes.Sample{}
	err = s.selectSamples(ctx, sql, q.args, func(sm apitypes.Sample) { out = append(out, sm) })
	if err != nil {
		return nil, err
	}
	return out, nil
}

// QueryAgentsSamples reads the agents' samples in one statement: each
// agent's window is one range of the primary key (instance_uid, minute,
// ...). Written as "instance_uid = ANY($1)", the planner prefers the
// minute index and filters the whole fleet's window, as samples lie in
// the heap by minute (EXPLAIN ANALYZE, PostgreSQL 15, 1,000 of 10,000
// agents: 260 ms against 90 ms); the lateral subquery, kept apart by its
// ORDER BY, is planned for one agent and ordered as QuerySamples orders.
func (s *Store) QueryAgentsSamples(ctx context.Context, uids []string, sq store.SampleQuery) (map[string][]apitypes.Sample, error) {
	uids, sq, err := store.NormalizeAgentsSampleQuery(uids, sq)
	if err != nil {
		return nil, err
	}
	out := make(map[string][]apitypes.Sample, len(uids))
	if len(uids) == 0 {
		return out, nil
	}
	q := query{conds: []string{"instance_uid = u.uid"}, args: []any{uids}}
	q.sampleFilters(sq)
	sql := `SELECT s.instance_uid, s.name, s.variant, s.minute, s.value FROM unnest($1::text[]) AS u(uid),
		LATERAL (SELECT * FROM samples` + q.clause() + ` ORDER BY name, variant, minute) AS s`
	err = s.selectSamples(ctx, sql, q.args, func(sm apitypes.Sample) { out[sm.InstanceUID] = append(out[sm.InstanceUID], sm) })
	if err != nil {
		return nil, err
	}
	return out, nil
}

// sampleFilters adds a sample query's series and window to q.
func (q *query) sampleFilters(sq store.SampleQuery) {
	if sq.Name != "" {
		q.where("name = " + q.arg(sq.Name))
	}
	if sq.Variant != "" {
		q.where("variant = " + q.arg(sq.Variant))
	}
	if !sq.From.IsZero() {
		q.where("minute >= " + q.arg(sq.From))
	}
	if !sq.To.IsZero() {
		q.where("minute < " + q.arg(sq.To))
	}
}

// selectSamples calls each with the samples sql selects.
func (s *Store) selectSamples(ctx context.Context, sql string, args []any, each func(apitypes.Sample)) error {
	return s.read(ctx, func() error {
		rows, err := s.pool.Query(ctx, sql, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var sm apitypes.Sample
			if err := rows.Scan(&sm.InstanceUID, &sm.Name, &sm.Variant, &sm.Minute, &sm.Value); err != nil {
				return err
			}
			sm.Minute = sm.Minute.UTC()
			each(sm)
		}
		return rows.Err()
	})
}

// DeleteSamplesBefore drops samples whose minute is before t.
func (s *Store) DeleteSamplesBefore(ctx context.Context, t time.Time) error {
	if err := store.ValidateTime("before", t); err != nil {
		return err
	}
	return s.write(ctx, func(tx pgx.Tx) ([]store.Change, error) {
		_, err := tx.Exec(ctx, `DELETE FROM samples WHERE minute < $1`, store.NormalizeTime(t))
		return nil, err
	})
}
