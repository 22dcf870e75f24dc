package deployments_test

import (
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/phoenix/platform/test/testenv"
)

// runScript runs a shell script with args and returns its combined output.
func runScript(tb testing.TB, script string, args ...string) (string, error) {
	tb.Helper()
	out, err := exec.Command(script, args...).CombinedOutput()
	return string(out), err
}

func installScript(tb testing.TB) string { return repoPath(tb, "deployments", "systemd", "install.sh") }

// fakeBinDir holds stand-ins for the three binaries install.sh copies: the
// tests check where they go, not what they do.
func fakeBinDir(tb testing.TB) string {
	tb.Helper()
	return writeFakeBins(tb, tb.TempDir())
}

func writeFakeBins(tb testing.TB, dir string) string {
	tb.Helper()
	for _, b := range []string{"phoenix", "phoenix-collector", "opampsupervisor"} {
		require.NoError(tb, os.WriteFile(filepath.Join(dir, b), []byte("#!/bin/sh\nexit 0\n"), 0o755))
	}
	return dir
}

// entry is a file or directory of an installed tree.
type entry struct {
	Mode    fs.FileMode
	Content string
}

// snapshot reads every file and directory under root.
func snapshot(tb testing.TB, root string) map[string]entry {
	tb.Helper()
	out := map[string]entry{}
	require.NoError(tb, filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == root {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		e := entry{Mode: info.Mode()}
		if !d.IsDir() {
			e.Content = string(readFile(tb, p))
		}
		out[rel] = e
		return nil
	}))
	return out
}

func isRoot() bool { return os.Geteuid() == 0 }

// The tree install.sh writes for both components, without users.
var installedTree = map[string]fs.FileMode{
	"etc":                                       fs.ModeDir | 0o755,
	"etc/phoenix":                               fs.ModeDir | 0o755,
	"etc/phoenix/server.yaml":                   0o644,
	"etc/phoenix/server.env":                    0o600,
	"etc/phoenix/supervisor.yaml":               0o644,
	"etc/phoenix/collector.yaml":                0o644,
	"etc/systemd":                               fs.ModeDir | 0o755,
	"etc/systemd/system":                        fs.ModeDir | 0o755,
	"etc/systemd/system/phoenix-server.service": 0o644,
	"etc/systemd/system/phoenix-agent.service":  0o644,
	"etc/sysusers.d":                            fs.ModeDir | 0o755,
	"etc/sysusers.d/phoenix-server.conf":        0o644,
	"etc/sysusers.d/phoenix-agent.conf":         0o644,
	"usr":                                       fs.ModeDir | 0o755,
	"usr/local":                                 fs.ModeDir | 0o755,
	"usr/local/bin":                             fs.ModeDir | 0o755,
	"usr/local/bin/phoenix":                     0o755,
	"usr/local/bin/phoenix-collector":           0o755,
	"usr/local/bin/opampsupervisor":             0o755,
}

// Files systemd-sysusers writes when install.sh creates the users.
var userFiles = []string{"etc/passwd", "etc/group", "etc/shadow", "etc/gshadow", "etc/.pwd.lock"}

func modes(snap map[string]entry) map[string]fs.FileMode {
	out := map[string]fs.FileMode{}
	for p, e := range snap {
		out[p] = e.Mode
	}
	return out
}

// enrollNote is the start of the closing message's enrollment command.
const enrollNote = "phoenix agent enroll --server "

func TestInstall(t *testing.T) {
	bin := fakeBinDir(t)
	root := filepath.Join(t.TempDir(), "root")
	out, err := runScript(t, installScript(t), "--root", root, "--bin-dir", bin, "--no-users",
		"--server", "wss://phoenix.test:4320/v1/opamp", "--public-url", "https://phoenix.test:8080",
		"--api", "https://phoenix.test:8080")
	require.NoError(t, err, out)
	snap := snapshot(t, root)
	assert.Equal(t, installedTree, modes(snap), "not enrolled: nothing in /var/lib")
	assert.Contains(t, out, enrollNote+"https://phoenix.test:8080 --enroll-token-file FILE",
		"not enrolled: the closing message says how, with the API URL given")

	sd := repoPath(t, "deployments", "systemd")
	for dest, src := range map[string]string{
		"etc/systemd/system/phoenix-server.service": "phoenix-server.service",
		"etc/systemd/system/phoenix-agent.service":  "phoenix-agent.service",
		"etc/sysusers.d/phoenix-server.conf":        "phoenix-server.sysusers",
		"etc/sysusers.d/phoenix-agent.conf":         "phoenix-agent.sysusers",
		"etc/phoenix/collector.yaml":                "collector.yaml",
		"etc/phoenix/server.env":                    "server.env",
		"usr/local/bin/phoenix":                     filepath.Join(bin, "phoenix"),
	} {
		if !filepath.IsAbs(src) {
			src = filepath.Join(sd, src)
		}
		assert.Equal(t, string(readFile(t, src)), snap[dest].Content, dest)
	}
	cfg := loadServerConfig(t, []byte(snap["etc/phoenix/server.yaml"].Content))
	assert.Equal(t, "https://phoenix.test:8080", cfg.PublicURL)
	sup := loadSupervisor(t, snap["etc/phoenix/supervisor.yaml"].Content)
	assert.Equal(t, "wss://phoenix.test:4320/v1/opamp", sup.Server.Endpoint)
	checkPhoenixSupervisor(t, sup)

	// Again, with a local edit: nothing changes, the edit survives.
	edited := filepath.Join(root, "etc", "phoenix", "collector.yaml")
	require.NoError(t, os.WriteFile(edited, []byte("# local\n"), 0o644))
	snap["etc/phoenix/collector.yaml"] = entry{Mode: 0o644, Content: "# local\n"}
	out, err = runScript(t, installScript(t), "--root", root, "--bin-dir", bin, "--no-users")
	require.NoError(t, err, out)
	assert.Equal(t, snap, snapshot(t, root), "a second run changes nothing")
	assert.Contains(t, out, "kept /etc/phoenix/collector.yaml")
	assert.NotContains(t, out, "warning:", "the kept configuration reads the identity")
}

// An installation from before enrollment leaves a supervisor.yaml reading
// the shared token from agent.env: both are kept, and reported.
func TestInstallReportsSharedTokenLeftovers(t *testing.T) {
	root := filepath.Join(t.TempDir(), "root")
	etc := filepath.Join(root, "etc", "phoenix")
	require.NoError(t, os.MkdirAll(etc, 0o755))
	current := string(readFile(t, repoPath(t, "deployments", "systemd", "supervisor.yaml")))
	old := strings.ReplaceAll(current, "${file:"+identityDir+"/token}", "${env:PHOENIX_AGENT_TOKEN}")
	require.NotEqual(t, current, old)
	testenv.WriteFile(t, etc, "supervisor.yaml", old)
	testenv.WriteFile(t, etc, "agent.env", "PHOENIX_AGENT_TOKEN="+retiredToken+"\n")
	out, err := runScript(t, installScript(t), "--root", root, "--bin-dir", fakeBinDir(t), "--no-users", "--only", "agent")
	require.NoError(t, err, out)
	assert.Contains(t, out, "warning: /etc/phoenix/supervisor.yaml does not read the agent's identity")
	assert.Contains(t, out, "warning: /etc/phoenix/agent.env is no longer read")
	assert.Equal(t, old, string(readFile(t, filepath.Join(etc, "supervisor.yaml"))), "local files are kept")
}

func TestInstallCreatesUsers(t *testing.T) {
	if !isRoot() {
		t.Skip("creating users needs root")
	}
	if _, err := exec.LookPath("systemd-sysusers"); err != nil {
		t.Skip("systemd-sysusers is not installed")
	}
	root := filepath.Join(t.TempDir(), "root")
	out, err := runScript(t, installScript(t), "--root", root, "--bin-dir", fakeBinDir(t))
	require.NoError(t, err, out)
	assert.Contains(t, out, enrollNote, "says the agent must enroll before it can connect")
	want := map[string]fs.FileMode{}
	for p, m := range installedTree {
		want[p] = m
	}
	got := modes(snapshot(t, root))
	for _, f := range userFiles {
		require.Contains(t, got, f, "systemd-sysusers wrote %s", f)
		want[f] = got[f]
	}
	assert.Equal(t, want, got)
	passwd := string(readFile(t, filepath.Join(root, "etc", "passwd")))
	for _, user := range []string{"phoenix", "phoenix-agent"} {
		line := ""
		for _, l := range strings.Split(passwd, "\n") {
			if strings.HasPrefix(l, user+":") {
				line = l
			}
		}
		require.NotEmpty(t, line, "user %s", user)
		fields := strings.Split(line, ":")
		assert.Equal(t, "/usr/sbin/nologin", fields[6], "%s cannot log in", user)
	}

	before := snapshot(t, root)
	out, err = runScript(t, installScript(t), "--root", root, "--bin-dir", fakeBinDir(t))
	require.NoError(t, err, out)
	assert.Equal(t, before, snapshot(t, root), "users are not created twice")
}

func TestInstallAsAnotherUser(t *testing.T) {
	// A directory anyone can traverse: t.TempDir's parents are private.
	shared, err := os.MkdirTemp("", "phoenix-install-")
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(shared) })
	require.NoError(t, os.Chmod(shared, 0o755))
	bin := filepath.Join(shared, "bin")
	require.NoError(t, os.Mkdir(bin, 0o755))
	writeFakeBins(t, bin)
	target := filepath.Join(shared, "target")
	require.NoError(t, os.Mkdir(target, 0o755))
	// A copy of deployments/systemd, readable whatever the checkout's modes.
	script := filepath.Join(shared, "systemd", "install.sh")
	require.NoError(t, os.CopyFS(filepath.Dir(script), os.DirFS(filepath.Dir(installScript(t)))))
	require.NoError(t, os.Chmod(filepath.Dir(script), 0o755))

	asUser := func(args ...string) *exec.Cmd { return exec.Command(script, args...) }
	if isRoot() {
		// Drop to nobody, as an operator without root runs it.
		setpriv, err := exec.LookPath("setpriv")
		if err != nil {
			t.Skip("setpriv is not installed")
		}
		require.NoError(t, os.Chown(target, 65534, 65534))
		asUser = func(args ...string) *exec.Cmd {
			return exec.Command(setpriv, append([]string{"--reuid=65534", "--regid=65534", "--clear-groups", script}, args...)...)
		}
	}
	out, err := asUser("--root", filepath.Join(target, "root"), "--bin-dir", bin, "--only", "agent").CombinedOutput()
	require.NoError(t, err, "%s", out)
	assert.Contains(t, string(out), "not root: not creating users")
	got := modes(snapshot(t, filepath.Join(target, "root")))
	assert.NotContains(t, got, "etc/passwd")
	assert.Contains(t, got, "usr/local/bin/phoenix", "an agent's host enrolls and rotates with phoenix")
	assert.NotContains(t, got, "etc/phoenix/server.yaml", "--only agent installs the agent's files only")
	assert.NotContains(t, got, "etc/systemd/system/phoenix-server.service")
	assert.Contains(t, got, "etc/systemd/system/phoenix-agent.service")

	// Into / without root is refused before anything is written.
	cmd := asUser("--no-binaries")
	cmd.Env = append(os.Environ(), "DESTDIR=")
	out, err = cmd.CombinedOutput()
	require.Error(t, err)
	assert.Contains(t, string(out), "installing into / needs root")
}

func TestInstallOnlyServer(t *testing.T) {
	root := t.TempDir()
	cmd := exec.Command(installScript(t), "--only", "server", "--bin-dir", fakeBinDir(t), "--no-users")
	cmd.Env = append(os.Environ(), "DESTDIR="+root) // DESTDIR is --root's default
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	got := modes(snapshot(t, root))
	for _, p := range []string{"usr/local/bin/phoenix", "etc/phoenix/server.yaml", "etc/systemd/system/phoenix-server.service"} {
		assert.Contains(t, got, p)
	}
	for _, p := range []string{"usr/local/bin/opampsupervisor", "etc/phoenix/supervisor.yaml", "etc/systemd/system/phoenix-agent.service", "var"} {
		assert.NotContains(t, got, p)
	}
}

func TestInstallErrors(t *testing.T) {
	bin := fakeBinDir(t)
	spaced := testenv.WriteFile(t, t.TempDir(), "token", "two words\n")
	token := testenv.WriteFile(t, t.TempDir(), "enroll.token", "0123456789abcdef\n")
	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"unknown argument", []string{"--bogus"}, "unknown argument --bogus"},
		{"missing value", []string{"--root"}, "--root needs a value"},
		{"bad component", []string{"--only", "both"}, `--only: "both" is not server or agent`},
		{"bad server URL", []string{"--server", "ftp://x"}, `--server: "ftp://x" is not a ws://`},
		{"bad public URL", []string{"--public-url", "phoenix:8080"}, "is not an http:// or https:// URL"},
		{"setting for a side left out", []string{"--only", "agent", "--public-url", "http://x:8080"}, "--only agent leaves out"},
		{"unreadable token", []string{"--enroll-token-file", "/nonexistent", "--api", "http://x:8080"}, "cannot read /nonexistent"},
		{"token with spaces", []string{"--enroll-token-file", spaced, "--api", "http://x:8080"}, "one token without spaces"},
		{"enrolling without the API", []string{"--enroll-token-file", token}, "--enroll-token-file needs --api URL"},
		{"OpAMP URL as the API", []string{"--enroll-token-file", token, "--api", "ws://x:4320/v1/opamp"}, `--api: "ws://x:4320/v1/opamp" is not an http://`},
		{"enrolling a server", []string{"--only", "server", "--enroll-token-file", token, "--api", "http://x:8080"}, "--only server leaves out"},
		{"no binaries", []string{"--bin-dir", "/nonexistent"}, "run `make build` first"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := filepath.Join(t.TempDir(), "root")
			// The case's arguments last: they override these.
			args := append([]string{"--root", root, "--no-users", "--bin-dir", bin}, tt.args...)
			out, err := runScript(t, installScript(t), args...)
			var exit *exec.ExitError
			require.ErrorAs(t, err, &exit, out)
			assert.NotZero(t, exit.Sys().(syscall.WaitStatus).ExitStatus())
			assert.Contains(t, out, tt.wantErr)
			_, statErr := os.Stat(filepath.Join(root, "etc", "systemd"))
			assert.ErrorIs(t, statErr, fs.ErrNotExist, "nothing is installed after an error")
		})
	}
}
