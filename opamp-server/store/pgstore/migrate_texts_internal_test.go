package pgstore

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/phoenix/platform/opamp-server/apitypes"
	"github.com/phoenix/platform/opamp-server/store"
)

// Assignments a schema-7 server wrote, texts inline, read back the same
// after migration 8 stores each distinct text once, and the SQL templating
// agrees with store.TemplateText: the same stored text, hash and flag.
func TestAssignmentTextsSharedAcrossMigration(t *testing.T) {
	ctx := t.Context()
	dsn, pool := atSchema(t, 7)
	fleet := func(uid string) string {
		return fmt.Sprintf("exporters:\n  otlp/%s: {}\nservice.instance.id: %s # é\n", uid, uid)
	}
	configs := map[string]string{
		"a-1":   fleet("a-1"),
		"a-2":   fleet("a-2"),
		"a-10":  fleet("a-10"),
		"plain": "receivers: {}\n",
		"p2":    "receivers: {}\n",
		"odd":   "odd " + store.TextPlaceholder + " odd\n",
		"aa":    "aaaa aaa\n", // overlapping occurrences: left to right
	}
	at := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	var want []apitypes.Assignment
	for uid, config := range configs {
		a := apitypes.Assignment{InstanceUID: uid, Pipeline: "p", Config: config, ConfigHash: store.HashConfig([]byte(config)),
			Reason: "old", AssignedAt: at, Generation: 3}
		want = append(want, a)
		_, err := pool.Exec(ctx, `INSERT INTO assignments (instance_uid, pipeline, parameters, config, config_hash, reason, assigned_at, generation)
			VALUES ($1, $2, NULL, $3, $4, $5, $6, $7)`, a.InstanceUID, a.Pipeline, a.Config, a.ConfigHash, a.Reason, a.AssignedAt, a.Generation)
		require.NoError(t, err)
		_, err = pool.Exec(ctx, `INSERT INTO assignment_generations (instance_uid, generation) VALUES ($1, 3)`, uid)
		require.NoError(t, err)
	}

	s, err := Open(ctx, dsn)
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	for _, a := range want {
		got, err := s.GetAssignment(ctx, a.InstanceUID)
		require.NoError(t, err)
		assert.Equal(t, a, got)
		st := store.StoredTexts([]apitypes.Assignment{a})[0]
		var hash string
		var templated bool
		var text string
		require.NoError(t, pool.QueryRow(ctx, `SELECT a.text_hash, a.templated, t.text FROM assignments a
			JOIN config_texts t ON t.hash = a.text_hash WHERE a.instance_uid = $1`, a.InstanceUID).Scan(&hash, &templated, &text))
		assert.Equal(t, st, store.StoredText{Text: text, Hash: hash, Templated: templated}, a.InstanceUID)
	}
	texts, refs, err := s.CountTexts(ctx)
	require.NoError(t, err)
	assert.Equal(t, 4, texts, "the fleet's, plain, odd, aa")
	assert.Equal(t, int64(len(want)), refs)

	// The converted rows' counts are exact: writes move them.
	_, err = s.SetAssignments(ctx, []apitypes.Assignment{
		{InstanceUID: "a-1", Config: "new\n"}, {InstanceUID: "odd", Config: "new\n"}, {InstanceUID: "plain", Config: fleet("plain")},
	})
	require.NoError(t, err)
	require.NoError(t, s.DeleteAssignment(ctx, "aa"))
	texts, refs, err = s.CountTexts(ctx)
	require.NoError(t, err)
	assert.Equal(t, 3, texts, "the fleet's, plain, new")
	assert.Equal(t, int64(len(want)-1), refs)
	got, err := s.GetAssignment(ctx, "plain")
	require.NoError(t, err)
	assert.Equal(t, fleet("plain"), got.Config)
	assert.Equal(t, int64(4), got.Generation)
}
