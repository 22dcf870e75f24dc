package boltstore

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/phoenix/platform/opamp-server/apitypes"
	"github.com/phoenix/platform/opamp-server/store"
)

// PutSamples writes samples, replacing values with the same key.
func (s *Store) PutSamples(ctx context.Context, samples []apitypes.Sample) error {
	samples, err := store.NormalizeSamples(samples)
	if err != nil || len(samples) == 0 {
		return err
	}
	// A fleet's exports arrive together: they share commits (Batch).
	return s.batch(ctx, func(tx *bolt.Tx) error {
		values, byMinute := tx.Bucket(bucketSamples), tx.Bucket(bucketSamplesByMinute)
		for _, sm := range samples {
			v := binary.BigEndian.AppendUint64(nil, math.Float64bits(sm.Value))
			if err := values.Put(sampleKey(sm.InstanceUID, sm.Name, sm.Variant, sm.Minute), v); err != nil {
				return err
			}
			if err := byMinute.Put(minuteKey(sm.InstanceUID, sm.Name, sm.Variant, sm.Minute), nil); err != nil {
				return err
			}
		}
		return nil
	}, store.Change{})
}

// QuerySamples returns matching samples by uid, name, variant and minute.
func (s *Store) QuerySamples(ctx context.Context, q store.SampleQuery) ([]apitypes.Sample, error) {
	q, err := store.NormalizeSampleQuery(q)
	if err != nil {
		return nil, err
	}
	out := []apitypes.Sample{}
	err = s.view(ctx, func(tx *bolt.Tx) error {
		out, err = scanSamples(ctx, tx.Bucket(bucketSamples).Cursor(), q, interner{}, out)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// QueryAgentsSamples reads the agents' samples in one transaction, each
// agent's as QuerySamples does; the uids come sorted, so the cursor only
// moves forward.
func (s *Store) QueryAgentsSamples(ctx context.Context, uids []string, q store.SampleQuery) (map[string][]apitypes.Sample, error) {
	uids, q, err := store.NormalizeAgentsSampleQuery(uids, q)
	if err != nil {
		return nil, err
	}
	out := make(map[string][]apitypes.Sample, len(uids))
	if len(uids) == 0 {
		return out, nil
	}
	err = s.view(ctx, func(tx *bolt.Tx) error {
		c, names := tx.Bucket(bucketSamples).Cursor(), interner{}
		for _, uid := range uids {
			if err := ctx.Err(); err != nil {
				return err
			}
			q.InstanceUID = uid
			got, err := scanSamples(ctx, c, q, names, nil)
			if err != nil {
				return err
			}
			if len(got) > 0 {
				out[uid] = got
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// scanSamples appends the samples q (normalized) selects to out. It scans
// the narrowest key prefix the query fixes, and within it seeks each
// series to the window and past its end: an agent's window costs its
// series times the window, not its whole retained history.
func scanSamples(ctx context.Context, c *bolt.Cursor, q store.SampleQuery, names interner, out []apitypes.Sample) ([]apitypes.Sample, error) {
	var prefix []byte
	switch {
	case q.InstanceUID != "" && q.Name != "" && q.Variant != "":
		prefix = seriesKey(q.InstanceUID, q.Name, q.Variant)
	case q.InstanceUID != "" && q.Name != "":
		prefix = append(append([]byte(q.InstanceUID), sep), q.Name...)
		prefix = append(prefix, sep)
	case q.InstanceUID != "":
		prefix = append([]byte(q.InstanceUID), sep)
	}
	var from []byte
	if !q.From.IsZero() {
		from = appendTime(nil, q.From)
	}
	n := 0
	var accepted []byte // the series last found to match, checked once
	k, v := c.Seek(prefix)
	for k != nil && bytes.HasPrefix(k, prefix) {
		if n++; n%4096 == 0 && ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if len(k) < 8+3 || len(v) != 8 {
			return nil, fmt.Errorf("corrupt sample key %q", k)
		}
		series, at := k[:len(k)-8], k[len(k)-8:]
		switch {
		case from != nil && bytes.Compare(at, from) < 0:
			k, v = c.Seek(append(bytes.Clone(series), from...))
			continue
		case !q.To.IsZero() && !decodeTime(at).Before(q.To):
			k, v = c.Seek(afterSeries(series))
			continue
		case !bytes.Equal(series, accepted):
			if !selects(q, series) {
				k, v = c.Seek(afterSeries(series))
				continue
			}
			accepted = append(accepted[:0], series...)
		}
		uid, name, variant, minute, ok := parseSampleKey(k, names)
		if !ok {
			return nil, fmt.Errorf("corrupt sample key %q", k)
		}
		out = append(out, apitypes.Sample{
			InstanceUID: uid, Name: name, Variant: variant, Minute: minute,
			Value: math.Float64frombits(binary.BigEndian.Uint64(v)),
		})
		k, v = c.Next()
	}
	return out, nil
}

// afterSeries is a key past every sample of the series whose key prefix
// (uid NUL name NUL variant NUL) is series: its samples add exactly 8
// bytes, and no other series shares that prefix.
func afterSeries(series []byte) []byte {
	return append(bytes.Clone(series), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff)
}

// interner shares the strings of one query's keys: a window over a fleet
// holds many samples of few agents, names and variants.
type interner map[string]string

func (in interner) get(b []byte) string {
	if s, ok := in[string(b)]; ok { // no allocation for the lookup
		return s
	}
	s := string(b)
	in[s] = s
	return s
}

// selects reports whether the series (uid NUL name NUL variant NUL) is one
// the query's name and variant select.
func selects(q store.SampleQuery, series []byte) bool {
	if q.Name == "" && q.Variant == "" {
		return true
	}
	parts := bytes.SplitN(series[:len(series)-1], []byte{sep}, 3)
	return len(parts) == 3 && (q.Name == "" || string(parts[1]) == q.Name) && (q.Variant == "" || string(parts[2]) == q.Variant)
}

// deleteChunk is how many samples DeleteSamplesBefore deletes per index scan.
const deleteChunk = 4096

// DeleteSamplesBefore drops samples whose minute is before t, walking the
// retention index from its oldest entry.
func (s *Store) DeleteSamplesBefore(ctx context.Context, t time.Time) error {
	if err := store.ValidateTime("before", t); err != nil {
		return err
	}
	end := appendTime(nil, store.NormalizeTime(t))
	return s.update(ctx, func(tx *bolt.Tx) ([]store.Change, error) {
		values, byMinute := tx.Bucket(bucketSamples), tx.Bucket(bucketSamplesByMinute)
		doomed := make([][]byte, 0, deleteChunk)
		for {
			// Collect a chunk, then delete it: a bbolt cursor is invalidated
			// by writes, and chunks bound the memory a large purge needs.
			doomed = doomed[:0]
			c := byMinute.Cursor()
			for k, _ := c.First(); k != nil && len(doomed) < deleteChunk && bytes.Compare(k[:8], end) < 0; k, _ = c.Next() {
				doomed = append(doomed, bytes.Clone(k))
			}
			if len(doomed) == 0 {
				return nil, nil
			}
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			for _, k := range doomed {
				if err := byMinute.Delete(k); err != nil {
					return nil, err
				}
				if err := values.Delete(append(bytes.Clone(k[8:]), k[:8]...)); err != nil {
					return nil, err
				}
			}
		}
	})
}
