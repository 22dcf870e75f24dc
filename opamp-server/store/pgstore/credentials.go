package pgstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/phoenix/platform/opamp-server/store"
)

const credentialColumns = `instance_uid, token_sha256, coalesce(previous_sha256, ''), previous_valid_until,
	enrolled_by, enrolled_at, rotated_at`

// CreateAgentCredential stores a new agent's credential.
func (s *Store) CreateAgentCredential(ctx context.Context, c store.AgentCredential) error {
	c, err := store.NormalizeCredential(c)
	if err != nil {
		return err
	}
	return s.write(ctx, func(tx pgx.Tx) ([]store.Change, error) {
		_, err := tx.Exec(ctx, `INSERT INTO agent_credentials (instance_uid, token_sha256, previous_sha256,
			previous_valid_until, enrolled_by, enrolled_at, rotated_at) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
			c.InstanceUID, c.TokenSHA256, nullableText(c.PreviousSHA256), nullableTime(c.PreviousValidUntil),
			c.EnrolledBy, c.EnrolledAt, nullableTime(c.RotatedAt))
		return nil, conflict(err, c.InstanceUID)
	})
}

// GetAgentCredential returns an agent's credential.
func (s *Store) GetAgentCredential(ctx context.Context, instanceUID string) (store.AgentCredential, error) {
	if err := store.ValidateKey("instance_uid", instanceUID); err != nil {
		return store.AgentCredential{}, err
	}
	var c store.AgentCredential
	err := s.read(ctx, func() (err error) {
		c, err = scanCredential(s.pool.QueryRow(ctx,
			`SELECT `+credentialColumns+` FROM agent_credentials WHERE instance_uid = $1`, instanceUID))
		return err
	})
	return c, err
}

// AgentCredentialByDigest finds the credential a token digest belongs to.
func (s *Store) AgentCredentialByDigest(ctx context.Context, digest string, now time.Time) (store.AgentCredential, error) {
	if err := store.ValidateDigest("digest", digest); err != nil {
		return store.AgentCredential{}, err
	}
	var c store.AgentCredential
	err := s.read(ctx, func() (err error) {
		c, err = scanCredential(s.pool.QueryRow(ctx, `SELECT `+credentialColumns+` FROM agent_credentials
			WHERE token_sha256 = $1 OR (previous_sha256 = $1 AND previous_valid_until > $2)`, digest, now.UTC()))
		return err
	})
	return c, err
}

// RotateAgentCredential replaces an agent's token digest, keeping the
// current one valid until previousValidUntil.
func (s *Store) RotateAgentCredential(ctx context.Context, instanceUID, digest string, previousValidUntil, now time.Time) (store.AgentCredential, error) {
	probe, err := store.NormalizeCredential(store.AgentCredential{InstanceUID: instanceUID, TokenSHA256: digest,
		PreviousValidUntil: previousValidUntil, RotatedAt: now})
	if err != nil {
		return store.AgentCredential{}, err
	}
	var c store.AgentCredential
	err = s.write(ctx, func(tx pgx.Tx) ([]store.Change, error) {
		var err error
		c, err = scanCredential(tx.QueryRow(ctx, `UPDATE agent_credentials SET previous_sha256 = token_sha256,
			previous_valid_until = $3, token_sha256 = $2, rotated_at = $4 WHERE instance_uid = $1
			RETURNING `+credentialColumns, probe.InstanceUID, probe.TokenSHA256, probe.PreviousValidUntil, probe.RotatedAt))
		return nil, conflict(err, instanceUID)
	})
	return c, err
}

// DeleteAgentCredential revokes an agent's credential.
func (s *Store) DeleteAgentCredential(ctx context.Context, instanceUID string) error {
	if err := store.ValidateKey("instance_uid", instanceUID); err != nil {
		return err
	}
	return s.write(ctx, func(tx pgx.Tx) ([]store.Change, error) {
		tag, err := tx.Exec(ctx, `DELETE FROM agent_credentials WHERE instance_uid = $1`, instanceUID)
		if err == nil && tag.RowsAffected() == 0 {
			err = fmt.Errorf("agent %q credential: %w", instanceUID, store.ErrNotFound)
		}
		return nil, err
	})
}

func scanCredential(row pgx.Row) (store.AgentCredential, error) {
	var c store.AgentCredential
	var previousUntil, rotated *time.Time
	err := row.Scan(&c.InstanceUID, &c.TokenSHA256, &c.PreviousSHA256, &previousUntil, &c.EnrolledBy, &c.EnrolledAt, &rotated)
	if errors.Is(err, pgx.ErrNoRows) {
		return c, fmt.Errorf("agent credential: %w", store.ErrNotFound)
	}
	if previousUntil != nil {
		c.PreviousValidUntil = previousUntil.UTC()
	}
	if rotated != nil {
		c.RotatedAt = rotated.UTC()
	}
	c.EnrolledAt = c.EnrolledAt.UTC()
	return c, err
}

// conflict reports a unique violation (the agent or the digest taken) as
// store.ErrConflict.
func conflict(err error, uid string) error {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" {
		return fmt.Errorf("agent %q credential (%s): %w", uid, pgErr.ConstraintName, store.ErrConflict)
	}
	return err
}

func nullableText(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func nullableTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}
