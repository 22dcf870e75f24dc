package deployments_test

import (
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/phoenix/platform/cli/agentidentity"
	"github.com/phoenix/platform/opamp-server/apiclient"
	"github.com/phoenix/platform/opamp-server/apitypes"
	"github.com/phoenix/platform/test/harness"
	"github.com/phoenix/platform/test/testenv"
)

// TestInstallEnrolls installs an agent host that enrolls with a real
// phoenix server, then runs the real supervisor on the installed
// supervisor.yaml (its paths moved into the root): it registers as the
// agent the host enrolled as. Installing again keeps that agent; after its
// credential is revoked, installing again enrolls the host anew.
func TestInstallEnrolls(t *testing.T) {
	ctx := t.Context()
	srv := harness.StartServer(t, harness.ServerOptions{})
	enrollFile := testenv.WriteFile(t, t.TempDir(), "enroll.token", srv.EnrollToken()+"\n")
	// The real phoenix, which enrolls; the agent's other binaries are run
	// from bin/ below, so stand-ins are enough here.
	bin := fakeBinDir(t)
	require.NoError(t, os.Remove(filepath.Join(bin, "phoenix")))
	require.NoError(t, os.Symlink(testenv.Binary(t, "phoenix"), filepath.Join(bin, "phoenix")))
	root := filepath.Join(t.TempDir(), "root")
	args := []string{"--root", root, "--bin-dir", bin, "--only", "agent",
		"--server", srv.OpAMP, "--api", srv.API, "--enroll-token-file", enrollFile}
	// As root with systemd-sysusers the users exist and the identity is
	// given to phoenix-agent; otherwise systemd does that at start.
	_, sysusersErr := exec.LookPath("systemd-sysusers")
	withUsers := isRoot() && sysusersErr == nil
	if !withUsers {
		args = append(args, "--no-users")
	}
	install := func() string {
		t.Helper()
		out, err := runScript(t, installScript(t), args...)
		require.NoError(t, err, out)
		assert.NotContains(t, out, enrollNote, "enrolled: no note to enroll")
		return out
	}
	install()

	idDir := filepath.Join(root, identityDir)
	id := checkIdentity(t, root, withUsers)
	self, err := apiclient.New(srv.API, id.Token).Self(ctx)
	require.NoError(t, err, "the server accepts the credential")
	assert.Equal(t, id.InstanceUID, self.InstanceUID)
	// The enrollment token is used, never stored.
	require.NoError(t, filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasPrefix(p, filepath.Join(root, "usr")) {
			return err
		}
		assert.NotContains(t, string(readFile(t, p)), srv.EnrollToken(), "%s holds the enrollment token", p)
		return nil
	}))

	sup := startInstalledSupervisor(t, root)
	waitOnline(t, srv, id.InstanceUID, sup)
	view, err := srv.Client().GetAgent(ctx, id.InstanceUID)
	require.NoError(t, err)
	assert.Equal(t, "vm", view.Labels["phoenix.deployment"])

	// Again: the server still accepts the identity, which is kept.
	out := install()
	assert.Contains(t, out, "already enrolled as agent "+id.InstanceUID)
	again, err := agentidentity.Read(idDir)
	require.NoError(t, err)
	assert.Equal(t, id, again)

	// Revoked: the host enrolls anew (a new agent), and the restarted
	// supervisor registers as it.
	require.NoError(t, srv.Client().RevokeCredential(ctx, id.InstanceUID))
	out = install()
	replaced := checkIdentity(t, root, withUsers)
	assert.NotEqual(t, id.InstanceUID, replaced.InstanceUID, "%s", out)
	assert.Contains(t, out, "the stored identity was replaced")
	sup.stop()
	sup = startInstalledSupervisor(t, root)
	waitOnline(t, srv, replaced.InstanceUID, sup)
	for _, uid := range []string{id.InstanceUID, replaced.InstanceUID} {
		assert.DirExists(t, filepath.Join(root, "var", "lib", "phoenix", "supervisor", uid), "the supervisor's state of each identity")
	}
}

// checkIdentity asserts the identity phoenix agent enroll left under root:
// the directory and files' modes, one value per file without a newline,
// and phoenix-agent as their owner when the users were created.
func checkIdentity(t *testing.T, root string, owned bool) agentidentity.Identity {
	t.Helper()
	idDir := filepath.Join(root, identityDir)
	id, err := agentidentity.Read(idDir)
	require.NoError(t, err, "install.sh enrolled the host")
	assert.Regexp(t, `^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`, id.InstanceUID)
	want := map[string]struct {
		mode    fs.FileMode
		content string
	}{
		"var/lib/phoenix": {fs.ModeDir | 0o755, ""},
		identityDir[1:]:   {fs.ModeDir | 0o700, ""},
		identityDir[1:] + "/" + apitypes.AgentInstanceIDFile: {0o644, id.InstanceUID},
		identityDir[1:] + "/" + apitypes.AgentTokenFile:      {0o600, id.Token},
	}
	var ids string
	if owned {
		for _, l := range strings.Split(string(readFile(t, filepath.Join(root, "etc", "passwd"))), "\n") {
			if f := strings.Split(l, ":"); len(f) > 3 && f[0] == "phoenix-agent" {
				ids = f[2] + ":" + f[3]
			}
		}
		require.NotEmpty(t, ids, "phoenix-agent in the root's /etc/passwd")
	}
	for rel, w := range want {
		p := filepath.Join(root, rel)
		st, err := os.Stat(p)
		require.NoError(t, err)
		assert.Equal(t, w.mode, st.Mode(), rel)
		if w.content != "" {
			assert.Equal(t, w.content, string(readFile(t, p)), "%s: the value alone, no newline", rel)
		}
		if owned && strings.HasPrefix("/"+rel, identityDir) {
			sys := st.Sys().(*syscall.Stat_t)
			assert.Equal(t, ids, fmt.Sprintf("%d:%d", sys.Uid, sys.Gid), "%s belongs to phoenix-agent", rel)
		}
	}
	return id
}

// installedSupervisor is opampsupervisor running on an installed
// supervisor.yaml.
type installedSupervisor struct {
	cmd           *exec.Cmd
	done          chan struct{}
	logPath, root string
}

// startInstalledSupervisor runs bin/opampsupervisor on root's
// /etc/phoenix/supervisor.yaml with every path of the target system moved
// into root (the identity, the storage, the fallback configuration) and
// bin/phoenix-collector as the executable. It is stopped when the test
// ends.
func startInstalledSupervisor(t *testing.T, root string) *installedSupervisor {
	t.Helper()
	cfg := string(readFile(t, filepath.Join(root, "etc", "phoenix", "supervisor.yaml")))
	moved := strings.NewReplacer(
		"/usr/local/bin/phoenix-collector", testenv.Binary(t, "phoenix-collector"),
		"/etc/phoenix/", filepath.Join(root, "etc", "phoenix")+"/",
		"/var/lib/phoenix/", filepath.Join(root, "var", "lib", "phoenix")+"/",
	).Replace(cfg)
	require.Contains(t, moved, "${file:"+filepath.Join(root, identityDir)+"/", "the configuration reads the identity under %s", identityDir)
	dir := t.TempDir()
	p := testenv.WriteFile(t, dir, "supervisor.yaml", moved)
	s := &installedSupervisor{done: make(chan struct{}), logPath: filepath.Join(dir, "supervisor.log"),
		root: root}
	logFile, err := os.Create(s.logPath)
	require.NoError(t, err)
	s.cmd = exec.Command(testenv.Binary(t, "opampsupervisor"), "--config", p)
	s.cmd.Stdout, s.cmd.Stderr = logFile, logFile
	// The retired shared token in the environment: the supervisor and its
	// collector must not need it.
	s.cmd.Env = append(os.Environ(), apitypes.AgentTokenEnv+"="+retiredToken)
	// Its own process group, so stopping it reaches its collector too.
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	require.NoError(t, s.cmd.Start())
	go func() {
		_ = s.cmd.Wait()
		_ = logFile.Close()
		close(s.done)
	}()
	t.Cleanup(s.stop)
	return s
}

// stop sends SIGTERM to the supervisor's process group and waits for it,
// killing it after 20 s.
func (s *installedSupervisor) stop() {
	_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(20 * time.Second):
		_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
		<-s.done
	}
}

// log returns the supervisor's output and its collector's log.
func (s *installedSupervisor) log() string {
	var b strings.Builder
	logs, _ := filepath.Glob(filepath.Join(s.root, "var", "lib", "phoenix", "supervisor", "*", "agent.log"))
	for _, p := range append([]string{s.logPath}, logs...) {
		raw, _ := os.ReadFile(p)
		fmt.Fprintf(&b, "==> %s <==\n%s\n", p, raw)
	}
	return b.String()
}

// waitOnline waits until the server shows agent uid connected.
func waitOnline(t *testing.T, srv *harness.Server, uid string, sup *installedSupervisor) {
	t.Helper()
	harness.Eventually(t, t.Context(), 60*time.Second, func() (bool, string) {
		v, err := srv.Client().GetAgent(t.Context(), uid)
		if err != nil {
			return false, err.Error()
		}
		return v.Online, fmt.Sprintf("agent %s is offline", uid)
	}, func() string { return sup.log() + "\n==> server <==\n" + srv.Log() })
}
