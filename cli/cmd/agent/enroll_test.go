package agent

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/phoenix/platform/cli/agentidentity"
	"github.com/phoenix/platform/cli/internal/clitest"
	"github.com/phoenix/platform/opamp-server/apiclient"
	"github.com/phoenix/platform/opamp-server/auth"
)

// enrollArgs enroll into dir with the admin token of srv as the
// enrollment token (admin may enroll).
func enrollArgs(t *testing.T, srv *clitest.Server, dir string, extra ...string) []string {
	t.Helper()
	tokenFile := clitest.WriteFile(t, "enroll.token", srv.Token+"\n")
	return append([]string{"enroll", "--dir", dir, "--enroll-token-file", tokenFile}, extra...)
}

func TestEnrollWritesAnIdentityAndKeepsIt(t *testing.T) {
	t.Parallel()
	srv := clitest.NewServer(t, auth.RoleAdmin)
	dir := filepath.Join(t.TempDir(), "agent")

	out, errOut, err := srv.Run(t, NewCmd, enrollArgs(t, srv, dir)...)
	require.NoError(t, err, errOut)
	uid := strings.TrimSpace(out)
	assert.Contains(t, errOut, "enrolled as agent "+uid)
	id, err := agentidentity.Read(dir)
	require.NoError(t, err)
	assert.Equal(t, uid, id.InstanceUID)
	assert.True(t, strings.HasPrefix(id.Token, auth.AgentTokenPrefix))
	for path, mode := range map[string]os.FileMode{dir: 0o700, agentidentity.TokenPath(dir): 0o600, agentidentity.InstanceIDPath(dir): 0o644} {
		info, err := os.Stat(path)
		require.NoError(t, err)
		assert.Equal(t, mode, info.Mode().Perm(), path)
	}
	self, err := apiclient.New(srv.URL, id.Token).Self(t.Context())
	require.NoError(t, err)
	assert.Equal(t, uid, self.InstanceUID, "the credential speaks for the stored UID")

	// Every start runs it again: a valid identity is kept.
	out, errOut, err = srv.Run(t, NewCmd, enrollArgs(t, srv, dir)...)
	require.NoError(t, err, errOut)
	assert.Equal(t, uid, strings.TrimSpace(out))
	assert.Contains(t, errOut, "already enrolled")
	again, err := agentidentity.Read(dir)
	require.NoError(t, err)
	assert.Equal(t, id, again)

	// --force makes a new agent.
	out, errOut, err = srv.Run(t, NewCmd, enrollArgs(t, srv, dir, "--force")...)
	require.NoError(t, err, errOut)
	assert.NotEqual(t, uid, strings.TrimSpace(out))
	assert.Contains(t, errOut, "replaced")
}

func TestEnrollReplacesARevokedIdentity(t *testing.T) {
	t.Parallel()
	srv := clitest.NewServer(t, auth.RoleAdmin)
	dir := t.TempDir()
	out, _, err := srv.Run(t, NewCmd, enrollArgs(t, srv, dir)...)
	require.NoError(t, err)
	uid := strings.TrimSpace(out)
	old, err := agentidentity.Read(dir)
	require.NoError(t, err)

	_, errOut, err := srv.Run(t, NewCmd, "revoke", uid)
	require.NoError(t, err, errOut)
	assert.Contains(t, errOut, "revoked agent "+uid)
	_, err = apiclient.New(srv.URL, old.Token).Self(t.Context())
	require.Error(t, err, "a revoked credential is refused")

	out, errOut, err = srv.Run(t, NewCmd, enrollArgs(t, srv, dir)...)
	require.NoError(t, err, errOut)
	assert.NotEqual(t, uid, strings.TrimSpace(out), "the host comes back as a new agent")
	assert.Contains(t, errOut, "replaced")

	_, _, err = srv.Run(t, NewCmd, "revoke", uid)
	require.Error(t, err, "revoking twice")
	assert.Contains(t, err.Error(), "not found")
}

func TestEnrollWhileTheServerIsDown(t *testing.T) {
	t.Parallel()
	srv := clitest.NewServer(t, auth.RoleAdmin)
	dir := t.TempDir()
	out, _, err := srv.Run(t, NewCmd, enrollArgs(t, srv, dir)...)
	require.NoError(t, err)

	down := "--server=" + clitest.Unreachable(t)
	again, errOut, err := srv.Run(t, NewCmd, append(enrollArgs(t, srv, dir), down)...)
	require.NoError(t, err, "a host with an identity boots while the server is down")
	assert.Equal(t, out, again)
	assert.Contains(t, errOut, "cannot be reached")

	_, _, err = srv.Run(t, NewCmd, append(enrollArgs(t, srv, t.TempDir()), down)...)
	require.Error(t, err, "a host without one cannot enroll then")
	assert.Contains(t, err.Error(), "enrolling")
}

func TestEnrollNeedsAnEnrollmentToken(t *testing.T) {
	t.Parallel()
	srv := clitest.NewServer(t, auth.RoleAdmin)
	_, _, err := clitest.Run(t, NewCmd, "--server="+srv.URL, "enroll", "--dir", t.TempDir(),
		"--enroll-token-file", filepath.Join(t.TempDir(), "missing"))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "reading the enrollment token")

	viewer := clitest.NewServer(t, auth.RoleViewer)
	_, _, err = viewer.Run(t, NewCmd, enrollArgs(t, viewer, t.TempDir())...)
	require.Error(t, err, "a viewer's token cannot enroll")
	assert.Contains(t, err.Error(), "403")
}

func TestRotate(t *testing.T) {
	t.Parallel()
	srv := clitest.NewServer(t, auth.RoleAdmin)
	dir := t.TempDir()
	_, _, err := srv.Run(t, NewCmd, enrollArgs(t, srv, dir)...)
	require.NoError(t, err)
	old, err := agentidentity.Read(dir)
	require.NoError(t, err)

	_, errOut, err := srv.Run(t, NewCmd, "rotate", "--dir", dir)
	require.NoError(t, err, errOut)
	assert.Contains(t, errOut, "the old one works until")
	rotated, err := agentidentity.Read(dir)
	require.NoError(t, err)
	assert.Equal(t, old.InstanceUID, rotated.InstanceUID)
	assert.NotEqual(t, old.Token, rotated.Token)
	for _, token := range []string{old.Token, rotated.Token} {
		self, err := apiclient.New(srv.URL, token).Self(t.Context())
		require.NoError(t, err, "both work during the grace")
		assert.Equal(t, old.InstanceUID, self.InstanceUID)
	}

	_, _, err = srv.Run(t, NewCmd, "rotate", "--dir", t.TempDir())
	require.Error(t, err, "nothing to rotate")
}

func TestIdentityFilesHoldNothingButTheValue(t *testing.T) {
	t.Parallel()
	srv := clitest.NewServer(t, auth.RoleAdmin)
	dir := t.TempDir()
	out, _, err := srv.Run(t, NewCmd, enrollArgs(t, srv, dir)...)
	require.NoError(t, err)
	// The supervisor reads each file whole (${file:...}): a newline would
	// make the UID invalid and the header malformed.
	raw, err := os.ReadFile(agentidentity.InstanceIDPath(dir))
	require.NoError(t, err)
	assert.Equal(t, strings.TrimSpace(out), string(raw))
	raw, err = os.ReadFile(agentidentity.TokenPath(dir))
	require.NoError(t, err)
	assert.NotContains(t, string(raw), "\n")
}
