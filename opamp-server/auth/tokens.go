package auth // import "github.com/phoenix/platform/opamp-server/auth"

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"go.yaml.in/yaml/v3"
)

// TokenEntry is one token in a tokens file. Only the token's SHA-256 is
// stored, so the file itself grants nothing to whoever reads it.
type TokenEntry struct {
	Name        string `yaml:"name"`
	TokenSHA256 string `yaml:"token_sha256"`
	Roles       []Role `yaml:"roles"`
}

func (e TokenEntry) validate() error {
	if e.Name == "" {
		return errors.New("name is required")
	}
	if b, err := hex.DecodeString(e.TokenSHA256); err != nil || len(b) != 32 {
		return errors.New("token_sha256 must be 64 hex characters (sha256sum of the token)")
	}
	if len(e.Roles) == 0 {
		return errors.New("roles: at least one role is required")
	}
	for _, r := range e.Roles {
		if r == RoleAgent {
			return errors.New("roles: agent is not a tokens-file role: every agent enrolls for a credential of its own " +
				"(give this token the enroll role and run `phoenix agent enroll` on each host; docs/security.md)")
		}
		if !ValidRole(r) {
			return fmt.Errorf("roles: unknown role %q (valid: viewer, operator, experimenter, admin, metrics, enroll)", r)
		}
	}
	return nil
}

// TokensFile is the on-disk format of a tokens file.
type TokensFile struct {
	Tokens []TokenEntry `yaml:"tokens"`
}

// LoadFile reads a tokens file strictly: unknown keys are errors.
func LoadFile(path string) (*Authenticator, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var tf TokensFile
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	if err := dec.Decode(&tf); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	a, err := New(tf.Tokens)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return a, nil
}

// Generated holds the token files EnsureDefault created.
type Generated struct {
	TokensFile  string
	AdminToken  string // path of the file holding the admin token
	EnrollToken string // path of the file holding the enrollment token
	Created     bool
}

// EnsureDefault makes a server secure by default without setup: in dataDir it
// keeps a tokens file with one admin and one enrollment token, creating both
// tokens (random, 256 bits) on first use and writing each token value to its
// own 0600 file for the operator to hand out.
func EnsureDefault(dataDir string) (Generated, error) {
	g := Generated{
		TokensFile:  filepath.Join(dataDir, "tokens.yaml"),
		AdminToken:  filepath.Join(dataDir, "admin.token"),
		EnrollToken: filepath.Join(dataDir, "enroll.token"),
	}
	if _, err := os.Stat(g.TokensFile); err == nil {
		return g, upgradeDefault(g, dataDir)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return g, err
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return g, err
	}
	admin, err := NewToken()
	if err != nil {
		return g, err
	}
	enroll, err := NewToken()
	if err != nil {
		return g, err
	}
	tf := TokensFile{Tokens: []TokenEntry{
		{Name: "admin", TokenSHA256: Digest(admin), Roles: []Role{RoleAdmin}},
		{Name: "enrollment", TokenSHA256: Digest(enroll), Roles: []Role{RoleEnroll}},
	}}
	raw, err := yaml.Marshal(tf)
	if err != nil {
		return g, err
	}
	for path, content := range map[string]string{g.AdminToken: admin + "\n", g.EnrollToken: enroll + "\n"} {
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			return g, err
		}
	}
	// The tokens file goes last: its presence means the set is complete.
	if err := os.WriteFile(g.TokensFile, raw, 0o600); err != nil {
		return g, err
	}
	g.Created = true
	return g, nil
}

// NewToken returns a random token: 32 bytes, hex encoded.
func NewToken() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

// AgentTokenPrefix starts every per-agent credential: it tells the server
// where to look the token up, lets secret scanners recognise it, and keeps
// the token a string when the supervisor reads it as YAML (${file:...}).
const AgentTokenPrefix = "phxa_"

// NewAgentToken returns a random per-agent credential.
func NewAgentToken() (string, error) {
	t, err := NewToken()
	return AgentTokenPrefix + t, err
}

// upgradeDefault turns the shared agent token an older server generated
// (entry "agents", role agent, its value in agent.token) into the
// enrollment token: the tokens file no longer grants the agent role, and
// without this a server upgraded in place would not start. Supervisors
// still sending it are then refused until their hosts enroll.
func upgradeDefault(g Generated, dataDir string) error {
	raw, err := os.ReadFile(g.TokensFile)
	if err != nil {
		return err
	}
	var tf TokensFile
	if err := yaml.Unmarshal(raw, &tf); err != nil {
		return nil // LoadFile reports it
	}
	old := filepath.Join(dataDir, "agent.token")
	changed := false
	for i, e := range tf.Tokens {
		if e.Name == "agents" && len(e.Roles) == 1 && e.Roles[0] == RoleAgent {
			tf.Tokens[i] = TokenEntry{Name: "enrollment", TokenSHA256: e.TokenSHA256, Roles: []Role{RoleEnroll}}
			changed = true
		}
	}
	if !changed {
		return nil
	}
	if _, err := os.Stat(g.EnrollToken); errors.Is(err, fs.ErrNotExist) {
		if err := os.Rename(old, g.EnrollToken); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	out, err := yaml.Marshal(tf)
	if err != nil {
		return err
	}
	return os.WriteFile(g.TokensFile, out, 0o600)
}
