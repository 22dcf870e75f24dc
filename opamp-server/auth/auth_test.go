package auth

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDigest(t *testing.T) {
	t.Parallel()
	// sha256sum of "abc", as an operator would compute it.
	assert.Equal(t, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", Digest("abc"))
}

func TestNewToken(t *testing.T) {
	t.Parallel()
	a, err := NewToken()
	require.NoError(t, err)
	b, err := NewToken()
	require.NoError(t, err)
	assert.Regexp(t, `^[0-9a-f]{64}$`, a)
	assert.NotEqual(t, a, b)
}

func TestNewValidatesEntries(t *testing.T) {
	t.Parallel()
	good := TokenEntry{Name: "ops", TokenSHA256: Digest("t1"), Roles: []Role{RoleOperator}}
	tests := []struct {
		name    string
		entry   TokenEntry
		mention []string
	}{
		{name: "missing name", entry: TokenEntry{TokenSHA256: Digest("t2"), Roles: []Role{RoleViewer}},
			mention: []string{"tokens[1]", "name is required"}},
		{name: "digest not hex", entry: TokenEntry{Name: "x", TokenSHA256: strings.Repeat("z", 64), Roles: []Role{RoleViewer}},
			mention: []string{"tokens[1] (x)", "token_sha256"}},
		{name: "digest too short", entry: TokenEntry{Name: "x", TokenSHA256: Digest("t2")[:32], Roles: []Role{RoleViewer}},
			mention: []string{"token_sha256", "64 hex"}},
		{name: "token instead of digest", entry: TokenEntry{Name: "x", TokenSHA256: "t2", Roles: []Role{RoleViewer}},
			mention: []string{"token_sha256"}},
		{name: "no roles", entry: TokenEntry{Name: "x", TokenSHA256: Digest("t2")},
			mention: []string{"tokens[1] (x)", "at least one role"}},
		{name: "unknown role", entry: TokenEntry{Name: "x", TokenSHA256: Digest("t2"), Roles: []Role{RoleViewer, "root"}},
			mention: []string{`unknown role "root"`}},
		{name: "same token twice", entry: TokenEntry{Name: "again", TokenSHA256: strings.ToUpper(Digest("t1")), Roles: []Role{RoleViewer}},
			mention: []string{"tokens[1] (again)", "listed twice"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := New([]TokenEntry{good, tt.entry})
			require.Error(t, err)
			assert.Nil(t, a)
			for _, m := range tt.mention {
				assert.Contains(t, err.Error(), m)
			}
		})
	}

	a, err := New([]TokenEntry{good, {Name: "upper", TokenSHA256: strings.ToUpper(Digest("t2")), Roles: []Role{RoleViewer}}})
	require.NoError(t, err)
	p, err := a.Authenticate(request("Bearer t2"))
	require.NoError(t, err, "digests are case-insensitive")
	assert.Equal(t, "upper", p.Name)
}

func request(authorization string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	if authorization != "" {
		r.Header.Set("Authorization", authorization)
	}
	return r
}

func TestAuthenticate(t *testing.T) {
	t.Parallel()
	roles := []Role{RoleViewer, RoleExperimenter}
	a, err := New([]TokenEntry{{Name: "vera", TokenSHA256: Digest("s3cret"), Roles: roles}})
	require.NoError(t, err)
	roles[0] = RoleAdmin // the authenticator keeps its own copy

	tests := []struct {
		authorization string
		want          error
	}{
		{"Bearer s3cret", nil},
		{"bearer s3cret", nil},
		{"BEARER s3cret", nil},
		{"Bearer   s3cret  ", nil},
		{"", ErrNoToken},
		{"Bearer", ErrNoToken},
		{"Bearer    ", ErrNoToken},
		{"Basic s3cret", ErrNoToken},
		{"s3cret", ErrNoToken},
		{"Bearer s3cret2", ErrInvalidToken},
		{"Bearer S3CRET", ErrInvalidToken},
	}
	for _, tt := range tests {
		t.Run(tt.authorization, func(t *testing.T) {
			p, err := a.Authenticate(request(tt.authorization))
			if tt.want != nil {
				assert.ErrorIs(t, err, tt.want)
				assert.Equal(t, Principal{}, p)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, Principal{Name: "vera", Roles: []Role{RoleViewer, RoleExperimenter}}, p)
		})
	}

	_, err = (&Authenticator{}).Authenticate(request("Bearer s3cret"))
	assert.ErrorIs(t, err, ErrInvalidToken, "the zero Authenticator rejects everything")
}

func TestRolePermissions(t *testing.T) {
	t.Parallel()
	perms := []Permission{PermRead, PermConfigure, PermExperiment, PermAgent, PermHostAccess}
	tests := []struct {
		roles []Role
		can   []Permission
	}{
		{roles: []Role{RoleViewer}, can: []Permission{PermRead}},
		{roles: []Role{RoleOperator}, can: []Permission{PermRead, PermConfigure}},
		{roles: []Role{RoleExperimenter}, can: []Permission{PermRead, PermExperiment}},
		{roles: []Role{RoleAdmin}, can: []Permission{PermRead, PermConfigure, PermExperiment, PermHostAccess}},
		{roles: []Role{RoleAgent}, can: []Permission{PermAgent}},
		{roles: []Role{RoleAgent, RoleOperator}, can: []Permission{PermRead, PermConfigure, PermAgent}},
		{roles: []Role{"root"}},
		{roles: nil},
	}
	for _, tt := range tests {
		p := Principal{Name: "p", Roles: tt.roles}
		for _, perm := range perms {
			want := false
			for _, c := range tt.can {
				want = want || c == perm
			}
			assert.Equal(t, want, p.Can(perm), "roles %v, permission %s", tt.roles, perm)
		}
	}
	for _, r := range []Role{RoleViewer, RoleOperator, RoleExperimenter, RoleAdmin, RoleAgent} {
		assert.True(t, ValidRole(r), r)
	}
	assert.False(t, ValidRole("root"))
	assert.False(t, ValidRole(""))
}

func TestLoadFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, content string) string {
		path := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(path, []byte(content), 0o600))
		return path
	}

	good := write("good.yaml", "tokens:\n  - name: ops\n    token_sha256: "+Digest("t1")+"\n    roles: [operator]\n")
	a, err := LoadFile(good)
	require.NoError(t, err)
	p, err := a.Authenticate(request("Bearer t1"))
	require.NoError(t, err)
	assert.Equal(t, "ops", p.Name)
	assert.True(t, p.Can(PermConfigure))

	tests := []struct {
		name, content string
		mention       []string
	}{
		{name: "unknown key", content: "tokens:\n  - name: ops\n    token: t1\n    roles: [operator]\n",
			mention: []string{"field token not found"}},
		{name: "unknown top-level key", content: "users: []\n", mention: []string{"field users not found"}},
		{name: "invalid entry", content: "tokens:\n  - name: ops\n    token_sha256: abc\n    roles: [operator]\n",
			mention: []string{"tokens[0] (ops)", "token_sha256"}},
		{name: "not YAML", content: "tokens: [", mention: []string{"yaml"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := write(strings.ReplaceAll(tt.name, " ", "-")+".yaml", tt.content)
			_, err := LoadFile(path)
			require.Error(t, err)
			assert.Contains(t, err.Error(), path, "errors name the file")
			for _, m := range tt.mention {
				assert.Contains(t, err.Error(), m)
			}
		})
	}

	_, err = LoadFile(filepath.Join(dir, "missing.yaml"))
	assert.ErrorIs(t, err, os.ErrNotExist)
}

func TestEnsureDefault(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "data", "phoenix")
	g, err := EnsureDefault(dir)
	require.NoError(t, err)
	assert.True(t, g.Created)
	assert.Equal(t, Generated{TokensFile: filepath.Join(dir, "tokens.yaml"), AdminToken: filepath.Join(dir, "admin.token"),
		EnrollToken: filepath.Join(dir, "enroll.token"), Created: true}, g)

	info, err := os.Stat(dir)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o700), info.Mode().Perm(), "the data directory is private")
	for _, f := range []string{g.TokensFile, g.AdminToken, g.EnrollToken} {
		info, err := os.Stat(f)
		require.NoError(t, err)
		assert.Equal(t, os.FileMode(0o600), info.Mode().Perm(), f)
	}

	a, err := LoadFile(g.TokensFile)
	require.NoError(t, err)
	tokenOf := func(path string) string {
		raw, err := os.ReadFile(path)
		require.NoError(t, err)
		return strings.TrimSpace(string(raw))
	}
	admin, enroll := tokenOf(g.AdminToken), tokenOf(g.EnrollToken)
	assert.NotEqual(t, admin, enroll)
	tokens, err := os.ReadFile(g.TokensFile)
	require.NoError(t, err)
	assert.NotContains(t, string(tokens), admin, "the tokens file holds digests only")

	p, err := a.Authenticate(request("Bearer " + admin))
	require.NoError(t, err)
	assert.Equal(t, []Role{RoleAdmin}, p.Roles)
	p, err = a.Authenticate(request("Bearer " + enroll))
	require.NoError(t, err)
	assert.Equal(t, []Role{RoleEnroll}, p.Roles)
	assert.False(t, p.Can(PermAgent), "the enrollment token cannot speak for any agent")

	again, err := EnsureDefault(dir)
	require.NoError(t, err)
	assert.False(t, again.Created, "the second start keeps the first start's tokens")
	assert.Equal(t, admin, tokenOf(g.AdminToken))
	after, err := os.ReadFile(g.TokensFile)
	require.NoError(t, err)
	assert.Equal(t, tokens, after)
}

func TestEnsureDefaultFailsOnUnusableDirectory(t *testing.T) {
	t.Parallel()
	parent := t.TempDir()
	notADir := filepath.Join(parent, "file")
	require.NoError(t, os.WriteFile(notADir, nil, 0o600))
	_, err := EnsureDefault(filepath.Join(notADir, "phoenix"))
	assert.Error(t, err)
}

func TestTokensFileRefusesTheAgentRole(t *testing.T) {
	t.Parallel()
	// A shared agent token could speak for every agent: agents enroll for
	// credentials of their own instead.
	_, err := New([]TokenEntry{{Name: "agents", TokenSHA256: Digest("x"), Roles: []Role{RoleAgent}}})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "tokens[0] (agents)")
	assert.Contains(t, err.Error(), "enroll")
}

func TestAgentCredentials(t *testing.T) {
	t.Parallel()
	token, err := NewAgentToken()
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(token, AgentTokenPrefix))
	const uid = "0190e0c4-8f1a-7c3e-9d2b-5a4f3e2d1c0b"
	var lookups int
	lookup := func(_ context.Context, digest string) (string, bool, error) {
		lookups++
		if digest == Digest(token) {
			return uid, true, nil
		}
		return "", false, nil
	}
	static, err := New([]TokenEntry{{Name: "admin", TokenSHA256: Digest("admin-token"), Roles: []Role{RoleAdmin}}})
	require.NoError(t, err)
	a := static.WithAgentCredentials(lookup)

	p, err := a.Authenticate(request("Bearer " + token))
	require.NoError(t, err)
	assert.Equal(t, AgentPrincipal(uid), p)
	assert.True(t, p.Can(PermAgent))
	assert.False(t, p.Can(PermRead), "an agent reads nothing of the API")

	_, err = a.Authenticate(request("Bearer " + AgentTokenPrefix + "unknown"))
	assert.ErrorIs(t, err, ErrInvalidToken)
	before := lookups
	_, err = a.Authenticate(request("Bearer not-an-agent-token"))
	assert.ErrorIs(t, err, ErrInvalidToken)
	assert.Equal(t, before, lookups, "only agent tokens are looked up in the store")

	p, err = a.Authenticate(request("Bearer admin-token"))
	require.NoError(t, err)
	assert.Empty(t, p.AgentUID)

	_, err = static.Authenticate(request("Bearer " + token))
	assert.ErrorIs(t, err, ErrInvalidToken, "the original authenticator is unchanged")

	failing := static.WithAgentCredentials(func(context.Context, string) (string, bool, error) {
		return "", false, errors.New("store closed")
	})
	_, err = failing.Authenticate(request("Bearer " + token))
	assert.ErrorIs(t, err, ErrUnavailable)
}

func TestRolesAndPermissionsAreListed(t *testing.T) {
	t.Parallel()
	for r, perms := range rolePermissions {
		assert.Contains(t, Roles(), r)
		for _, p := range perms {
			assert.Contains(t, Permissions(), p)
		}
	}
	assert.Len(t, Roles(), len(rolePermissions))
}

// A data directory an older server generated, with the shared agent token,
// is upgraded in place: that token becomes the enrollment token.
func TestEnsureDefaultUpgradesTheSharedAgentToken(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	agent := "old-shared-agent-token"
	require.NoError(t, os.WriteFile(filepath.Join(dir, "agent.token"), []byte(agent+"\n"), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "tokens.yaml"), []byte("tokens:\n"+
		"  - {name: admin, token_sha256: "+Digest("adm")+", roles: [admin]}\n"+
		"  - {name: agents, token_sha256: "+Digest(agent)+", roles: [agent]}\n"), 0o600))
	g, err := EnsureDefault(dir)
	require.NoError(t, err)
	a, err := LoadFile(g.TokensFile)
	require.NoError(t, err, "the server starts")
	p, err := a.Authenticate(request("Bearer " + agent))
	require.NoError(t, err)
	assert.Equal(t, []Role{RoleEnroll}, p.Roles, "the old token may now only enroll")
	raw, err := os.ReadFile(g.EnrollToken)
	require.NoError(t, err)
	assert.Equal(t, agent, strings.TrimSpace(string(raw)))
	_, err = os.Stat(filepath.Join(dir, "agent.token"))
	assert.ErrorIs(t, err, os.ErrNotExist)
}
