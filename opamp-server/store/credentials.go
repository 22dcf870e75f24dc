package store

import (
	"context"
	"errors"
	"time"
)

// AgentCredential is the stored half of an agent's own credential: the
// digests of its tokens, never a token. One agent has at most one.
type AgentCredential struct {
	InstanceUID string `json:"instance_uid"`
	// TokenSHA256 is the digest (auth.Digest) of the current token.
	TokenSHA256 string `json:"token_sha256"`
	// PreviousSHA256, after a rotation, stays valid until
	// PreviousValidUntil: the time the host needs to restart its supervisor
	// with the new token.
	PreviousSHA256     string    `json:"previous_sha256,omitempty"`
	PreviousValidUntil time.Time `json:"previous_valid_until,omitzero"`
	// EnrolledBy names the principal whose enrollment token created it.
	EnrolledBy string    `json:"enrolled_by"`
	EnrolledAt time.Time `json:"enrolled_at"`
	RotatedAt  time.Time `json:"rotated_at,omitzero"`
}

// Matches reports whether digest is c's current token, or its previous one
// still inside the rotation grace at now.
func (c AgentCredential) Matches(digest string, now time.Time) bool {
	if digest == c.TokenSHA256 {
		return true
	}
	return c.PreviousSHA256 != "" && digest == c.PreviousSHA256 && now.Before(c.PreviousValidUntil)
}

// NormalizeCredential validates c (instance UID, digests as 64 lower-case
// hex characters, times in range) and returns its stored form.
func NormalizeCredential(c AgentCredential) (AgentCredential, error) {
	k := checker{record: "agent credential"}
	k.key("instance_uid", c.InstanceUID)
	k.digest("token_sha256", c.TokenSHA256)
	if c.PreviousSHA256 != "" {
		k.digest("previous_sha256", c.PreviousSHA256)
	}
	k.text("enrolled_by", c.EnrolledBy)
	k.time("enrolled_at", c.EnrolledAt)
	k.time("rotated_at", c.RotatedAt)
	k.time("previous_valid_until", c.PreviousValidUntil)
	if k.err != nil {
		return c, k.err
	}
	c.EnrolledAt = NormalizeTime(c.EnrolledAt)
	c.RotatedAt = NormalizeTime(c.RotatedAt)
	c.PreviousValidUntil = NormalizeTime(c.PreviousValidUntil)
	return c, nil
}

// ValidateDigest checks a token digest given to a lookup.
func ValidateDigest(field, digest string) error {
	var c checker
	c.digest(field, digest)
	return c.err
}

// CredentialLookup adapts st to the authenticator's per-agent credential
// lookup (auth.AgentCredentials): the instance UID a token digest was
// issued to, found false for an unknown, revoked or expired one.
func CredentialLookup(st Store) func(ctx context.Context, digest string) (uid string, found bool, err error) {
	return func(ctx context.Context, digest string) (string, bool, error) {
		c, err := st.AgentCredentialByDigest(ctx, digest, time.Now())
		switch {
		case errors.Is(err, ErrNotFound):
			return "", false, nil
		case err != nil:
			return "", false, err
		}
		return c.InstanceUID, true, nil
	}
}
