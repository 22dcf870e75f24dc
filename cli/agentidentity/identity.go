// Package agentidentity keeps an agent's identity on its host: the instance
// UID and credential `phoenix agent enroll` obtained, one value per file in
// a directory the supervisor's configuration reads with ${file:...}.
package agentidentity // import "github.com/phoenix/platform/cli/agentidentity"

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/phoenix/platform/opamp-server/apiclient"
	"github.com/phoenix/platform/opamp-server/apitypes"
)

// ErrIncomplete: an identity directory with one of its files empty.
var ErrIncomplete = errors.New("incomplete identity")

// Identity is an enrolled agent: the instance UID its supervisor pins and
// the token it authenticates with.
type Identity struct {
	InstanceUID string
	Token       string
}

// Paths of an identity directory's files.
func InstanceIDPath(dir string) string { return filepath.Join(dir, apitypes.AgentInstanceIDFile) }

// TokenPath is the file holding the agent's token.
func TokenPath(dir string) string { return filepath.Join(dir, apitypes.AgentTokenFile) }

// Read loads the identity in dir; an error wrapping fs.ErrNotExist means
// the host has not enrolled.
func Read(dir string) (Identity, error) {
	uid, err := os.ReadFile(InstanceIDPath(dir))
	if err != nil {
		return Identity{}, err
	}
	token, err := os.ReadFile(TokenPath(dir))
	if err != nil {
		return Identity{}, err
	}
	id := Identity{InstanceUID: strings.TrimSpace(string(uid)), Token: strings.TrimSpace(string(token))}
	if id.InstanceUID == "" || id.Token == "" {
		return Identity{}, fmt.Errorf("%s: %w (empty %s or %s)", dir, ErrIncomplete, apitypes.AgentInstanceIDFile, apitypes.AgentTokenFile)
	}
	return id, nil
}

// Write stores id in dir (created 0700): the token 0600, the instance UID
// 0644, each without a trailing newline (the supervisor's ${file:...} keeps
// one, and a UUID or header with it is invalid). Each file is replaced atomically, the token first, so a crash
// leaves either identity whole or the new token beside the old UID, which
// the server refuses and `phoenix agent enroll` then repairs.
func Write(dir string, id Identity) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	if err := writeAtomic(TokenPath(dir), id.Token, 0o600); err != nil {
		return err
	}
	return writeAtomic(InstanceIDPath(dir), id.InstanceUID, 0o644)
}

func writeAtomic(path, content string, mode os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // after a successful rename there is nothing to remove
	if err := tmp.Chmod(mode); err != nil {
		_ = tmp.Close()
		return err
	}
	if _, err := tmp.WriteString(content); err != nil {
		_ = tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		_ = tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// Outcome says what Ensure did.
type Outcome string

// Outcomes of Ensure.
const (
	// Enrolled: the host had no identity and has one now.
	Enrolled Outcome = "enrolled"
	// Kept: the stored identity is valid.
	Kept Outcome = "kept"
	// KeptUnverified: the server could not be asked; the stored identity
	// stays, so a host boots while the server is down.
	KeptUnverified Outcome = "kept-unverified"
	// Replaced: the server refused the stored credential (revoked, or the
	// agent deleted), or Force was set: the host is a new agent now.
	Replaced Outcome = "replaced"
)

// EnrollOptions configure Ensure.
type EnrollOptions struct {
	// Server is the API URL; EnrollToken a token with the enroll permission.
	Server, EnrollToken string
	// Dir is the identity directory.
	Dir string
	// HostName is sent for the server's log.
	HostName string
	// Force enrolls anew even when the stored identity is valid.
	Force bool
}

// Ensure leaves a valid identity in o.Dir and returns it: it keeps a stored
// identity the server accepts (or cannot be asked about), and enrolls
// otherwise. Running it on every start is safe.
func Ensure(ctx context.Context, o EnrollOptions) (Identity, Outcome, error) {
	stored, err := Read(o.Dir)
	had := err == nil
	if err != nil && !errors.Is(err, os.ErrNotExist) && !errors.Is(err, ErrIncomplete) {
		return Identity{}, "", err
	}
	if had && !o.Force {
		self, err := apiclient.New(o.Server, stored.Token).Self(ctx)
		switch {
		case err == nil && self.InstanceUID == stored.InstanceUID:
			return stored, Kept, nil
		case err == nil, apiclient.IsStatus(err, http.StatusUnauthorized):
			// Refused, or issued to another UID: enroll anew below.
		case apiclient.IsStatus(err, http.StatusServiceUnavailable) || !isServerAnswer(err):
			return stored, KeptUnverified, nil
		default:
			return Identity{}, "", fmt.Errorf("checking the stored identity: %w", err)
		}
	}
	if o.EnrollToken == "" {
		return Identity{}, "", errors.New("no enrollment token: give --enroll-token-file (or " + EnvEnrollToken + ")")
	}
	cred, err := apiclient.New(o.Server, o.EnrollToken).Enroll(ctx, apitypes.EnrollRequest{HostName: o.HostName})
	if err != nil {
		return Identity{}, "", fmt.Errorf("enrolling: %w", err)
	}
	id := Identity{InstanceUID: cred.InstanceUID, Token: cred.Token}
	if err := Write(o.Dir, id); err != nil {
		return Identity{}, "", fmt.Errorf("storing the new identity (agent %s) in %s: %w", id.InstanceUID, o.Dir, err)
	}
	if had {
		return id, Replaced, nil
	}
	return id, Enrolled, nil
}

// Rotate replaces the credential in dir with a new one for the same agent
// and returns when the old one stops working.
func Rotate(ctx context.Context, server, dir string) (apitypes.AgentCredential, error) {
	id, err := Read(dir)
	if err != nil {
		return apitypes.AgentCredential{}, err
	}
	cred, err := apiclient.New(server, id.Token).RotateCredential(ctx)
	if err != nil {
		return cred, fmt.Errorf("rotating: %w", err)
	}
	if cred.InstanceUID != id.InstanceUID {
		return cred, fmt.Errorf("the server rotated agent %s's credential, not %s's: %s is inconsistent", cred.InstanceUID, id.InstanceUID, dir)
	}
	if err := writeAtomic(TokenPath(dir), cred.Token, 0o600); err != nil {
		return cred, fmt.Errorf("storing the new token in %s (the old one works until %s): %w", dir, cred.PreviousValidUntil, err)
	}
	return cred, nil
}

// EnvEnrollToken is the environment variable `phoenix agent enroll` reads
// the enrollment token from when no file is given.
const EnvEnrollToken = "PHOENIX_ENROLL_TOKEN"

// isServerAnswer reports whether err is an answer from the API (as opposed
// to the server being unreachable).
func isServerAnswer(err error) bool {
	var apiErr *apiclient.Error
	return errors.As(err, &apiErr)
}
