package storetest

import (
	"crypto/sha256"
	"encoding/hex"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/phoenix/platform/opamp-server/store"
)

var credentialTests = []testCase{
	{"CreateGetAndLookUp", testCredentialCreateGetLookup},
	{"Rotate", testCredentialRotate},
	{"Revoke", testCredentialRevoke},
	{"DeletedWithTheAgent", testCredentialDeletedWithAgent},
	{"Invalid", testCredentialInvalid},
}

func digest(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

func credential(uid, token string) store.AgentCredential {
	return store.AgentCredential{InstanceUID: uid, TokenSHA256: digest(token), EnrolledBy: "enrollment", EnrolledAt: base}
}

func testCredentialCreateGetLookup(t *testing.T, s store.Store) {
	ctx := t.Context()
	require.NoError(t, s.CreateAgentCredential(ctx, credential("a1", "t1")))
	got, err := s.GetAgentCredential(ctx, "a1")
	require.NoError(t, err)
	want := credential("a1", "t1")
	want.EnrolledAt = normTime(base)
	assert.Equal(t, want, got)

	got, err = s.AgentCredentialByDigest(ctx, digest("t1"), base)
	require.NoError(t, err)
	assert.Equal(t, "a1", got.InstanceUID)
	_, err = s.AgentCredentialByDigest(ctx, digest("other"), base)
	assert.ErrorIs(t, err, store.ErrNotFound)

	assert.ErrorIs(t, s.CreateAgentCredential(ctx, credential("a1", "t2")), store.ErrConflict,
		"an enrolled agent cannot be enrolled again")
	assert.ErrorIs(t, s.CreateAgentCredential(ctx, credential("a2", "t1")), store.ErrConflict,
		"one token cannot belong to two agents")
	_, err = s.GetAgentCredential(ctx, "a2")
	assert.ErrorIs(t, err, store.ErrNotFound)
}

func testCredentialRotate(t *testing.T, s store.Store) {
	ctx := t.Context()
	require.NoError(t, s.CreateAgentCredential(ctx, credential("a1", "old")))
	require.NoError(t, s.CreateAgentCredential(ctx, credential("a2", "theirs")))
	grace := base.Add(time.Hour)
	rotated, err := s.RotateAgentCredential(ctx, "a1", digest("new"), grace, base.Add(time.Minute))
	require.NoError(t, err)
	assert.Equal(t, digest("new"), rotated.TokenSHA256)
	assert.Equal(t, digest("old"), rotated.PreviousSHA256)
	assert.Equal(t, normTime(grace), rotated.PreviousValidUntil)
	assert.Equal(t, normTime(base.Add(time.Minute)), rotated.RotatedAt)

	for _, tc := range []struct {
		token string
		at    time.Time
		found bool
	}{
		{"new", base, true},
		{"old", grace.Add(-time.Second), true},
		{"old", grace, false},
		{"new", grace.Add(24 * time.Hour), true},
	} {
		c, err := s.AgentCredentialByDigest(ctx, digest(tc.token), tc.at)
		if tc.found {
			require.NoError(t, err, "%s at %s", tc.token, tc.at)
			assert.Equal(t, "a1", c.InstanceUID)
		} else {
			assert.ErrorIs(t, err, store.ErrNotFound, "%s at %s", tc.token, tc.at)
		}
	}

	_, err = s.RotateAgentCredential(ctx, "a1", digest("theirs"), grace, base)
	assert.ErrorIs(t, err, store.ErrConflict, "another agent's token is never taken over")
	c, err := s.AgentCredentialByDigest(ctx, digest("theirs"), base)
	require.NoError(t, err)
	assert.Equal(t, "a2", c.InstanceUID)
	_, err = s.RotateAgentCredential(ctx, "nobody", digest("x"), grace, base)
	assert.ErrorIs(t, err, store.ErrNotFound)
}

func testCredentialRevoke(t *testing.T, s store.Store) {
	ctx := t.Context()
	require.NoError(t, s.CreateAgentCredential(ctx, credential("a1", "old")))
	_, err := s.RotateAgentCredential(ctx, "a1", digest("new"), base.Add(time.Hour), base)
	require.NoError(t, err)
	require.NoError(t, s.DeleteAgentCredential(ctx, "a1"))
	for _, token := range []string{"old", "new"} {
		_, err := s.AgentCredentialByDigest(ctx, digest(token), base)
		assert.ErrorIs(t, err, store.ErrNotFound, token)
	}
	assert.ErrorIs(t, s.DeleteAgentCredential(ctx, "a1"), store.ErrNotFound)
	require.NoError(t, s.CreateAgentCredential(ctx, credential("a1", "again")), "a revoked agent can enroll again")
}

func testCredentialDeletedWithAgent(t *testing.T, s store.Store) {
	ctx := t.Context()
	cutoff := base.Add(24 * time.Hour)
	old := minimalAgent("gone", false, nil)
	old.LastSeen = base
	deleted := minimalAgent("deleted", true, nil)
	upsertAgents(t, s, old, deleted)
	for _, uid := range []string{"gone", "deleted", "never-connected", "enrolled-recently"} {
		c := credential(uid, "token-"+uid)
		if uid == "enrolled-recently" {
			c.EnrolledAt = cutoff.Add(time.Minute)
		}
		require.NoError(t, s.CreateAgentCredential(ctx, c))
	}

	require.NoError(t, s.DeleteAgent(ctx, "deleted"))
	_, err := s.GetAgentCredential(ctx, "deleted")
	assert.ErrorIs(t, err, store.ErrNotFound, "a deleted agent must enroll again")

	removed, err := s.DeleteAgentsOfflineSince(ctx, cutoff)
	require.NoError(t, err)
	assert.Equal(t, []string{"gone"}, removed)
	for uid, kept := range map[string]bool{"gone": false, "never-connected": false, "enrolled-recently": true} {
		_, err := s.GetAgentCredential(ctx, uid)
		if kept {
			assert.NoError(t, err, uid)
		} else {
			assert.ErrorIs(t, err, store.ErrNotFound, uid)
		}
	}
}

func testCredentialInvalid(t *testing.T, s store.Store) {
	ctx := t.Context()
	for name, c := range map[string]store.AgentCredential{
		"no uid":        {TokenSHA256: digest("t"), EnrolledAt: base},
		"not a digest":  {InstanceUID: "a", TokenSHA256: "secret-token", EnrolledAt: base},
		"upper case":    {InstanceUID: "a", TokenSHA256: "A" + digest("t")[1:], EnrolledAt: base},
		"NUL in name":   {InstanceUID: "a", TokenSHA256: digest("t"), EnrolledBy: "x\x00", EnrolledAt: base},
		"year 10000":    {InstanceUID: "a", TokenSHA256: digest("t"), EnrolledAt: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)},
		"bad previous":  {InstanceUID: "a", TokenSHA256: digest("t"), PreviousSHA256: "x", EnrolledAt: base},
		"too long uid":  {InstanceUID: string(make([]byte, store.MaxKeyLength+1)), TokenSHA256: digest("t")},
		"invalid UTF-8": {InstanceUID: "\xff", TokenSHA256: digest("t")},
	} {
		assert.ErrorIs(t, s.CreateAgentCredential(ctx, c), store.ErrInvalid, name)
	}
	_, err := s.AgentCredentialByDigest(ctx, "not-a-digest", base)
	assert.ErrorIs(t, err, store.ErrInvalid)
	_, err = s.RotateAgentCredential(ctx, "a", "not-a-digest", base, base)
	assert.ErrorIs(t, err, store.ErrInvalid)
	_, err = s.GetAgentCredential(ctx, "a")
	assert.ErrorIs(t, err, store.ErrNotFound, "nothing was stored")
}
