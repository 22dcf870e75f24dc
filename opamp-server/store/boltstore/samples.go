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

// QuerySamples returns matching samples by uid, name, variant and minute:
// a scan of the narrowest key prefix the query fixes.
func (s *Store) QuerySamples(ctx context.Context, q store.SampleQuery) ([]apitypes.Sample, error) {
	q, err := store.NormalizeSampleQuery(q)
	if err != nil {
		return nil, err
	}
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
	// One series is a time-ordered run of keys: seek to From, stop at To.
	oneSeries := q.Variant != "" && q.Name != "" && q.InstanceUID != ""
	start := prefix
	if oneSeries && !q.From.IsZero() {
		start = appendTime(bytes.Clone(prefix), q.From)
	}

	out := []apitypes.Sample{}
	err = s.view(ctx, func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketSamples).Cursor()
		n := 0
		for k, v := c.Seek(start); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			if n++; n%4096 == 0 && ctx.Err() != nil {
				return ctx.Err()
			}
			uid, name, variant, minute, ok := parseSampleKey(k)
			if !ok || len(v) != 8 {
				return fmt.Errorf("corrupt sample key %q", k)
			}
			if oneSeries && !q.To.IsZero() && !minute.Before(q.To) {
				break
			}
			if !matchSample(q, name, variant, minute) {
				continue
			}
			out = append(out, apitypes.Sample{
				InstanceUID: uid, Name: name, Variant: variant, Minute: minute,
				Value: math.Float64frombits(binary.BigEndian.Uint64(v)),
			})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func matchSample(q store.SampleQuery, name, variant string, minute time.Time) bool {
	return (q.Name == "" || q.Name == name) &&
		(q.Variant == "" || q.Variant == variant) &&
		(q.From.IsZero() || !minute.Before(q.From)) &&
		(q.To.IsZero() || minute.Before(q.To))
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
