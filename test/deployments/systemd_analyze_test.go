package deployments_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// systemdAnalyze is Debian's systemd-analyze (`make test-deps` installs the
// systemd package). It needs no running systemd for what the tests ask.
func systemdAnalyze(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Fatalf("systemd-analyze not found (%v): install the Debian package systemd, or run `make test-deps`", err)
	}
	return p
}

// installedRoot installs both services with install.sh into a temporary
// root, plus the distribution's own units (sysinit.target,
// network-online.target, multi-user.target, …) the services' dependencies
// name: systemd-analyze --root resolves every unit inside the root.
func installedRoot(t *testing.T) string {
	t.Helper()
	root := filepath.Join(t.TempDir(), "root")
	out, err := runScript(t, installScript(t), "--root", root, "--bin-dir", fakeBinDir(t), "--no-users")
	require.NoError(t, err, out)
	sys := "/usr/lib/systemd/system"
	entries, err := os.ReadDir(sys)
	require.NoError(t, err, "the systemd package's units")
	dest := filepath.Join(root, sys)
	require.NoError(t, os.MkdirAll(dest, 0o755))
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		require.NoError(t, os.WriteFile(filepath.Join(dest, e.Name()), readFile(t, filepath.Join(sys, e.Name())), 0o644))
	}
	return root
}

var phoenixUnits = []string{"phoenix-agent.service", "phoenix-server.service"}

// The units as installed load without a warning: every key known, every
// command executable, every dependency found.
func TestSystemdAnalyzeVerify(t *testing.T) {
	sa := systemdAnalyze(t)
	root := installedRoot(t)
	out, err := exec.Command(sa, append([]string{"verify", "--root=" + root}, phoenixUnits...)...).CombinedOutput()
	require.NoError(t, err, "%s", out)
	assert.Empty(t, strings.TrimSpace(string(out)), "systemd-analyze verify warns")
}

// verify must be able to fail: a misspelt key warns, a missing binary fails.
func TestSystemdAnalyzeVerifyCanFail(t *testing.T) {
	sa := systemdAnalyze(t)
	root := installedRoot(t)
	unit := filepath.Join(root, "etc/systemd/system/phoenix-agent.service")
	good := string(readFile(t, unit))

	misspelt := strings.Replace(good, "NoNewPrivileges=", "NoNewPriviledges=", 1)
	misspelt = strings.Replace(misspelt, "KillMode=mixed", "KillMode=bogus", 1)
	require.NoError(t, os.WriteFile(unit, []byte(misspelt), 0o644))
	out, _ := exec.Command(sa, "verify", "--root="+root, "phoenix-agent.service").CombinedOutput()
	assert.Contains(t, string(out), "Unknown key 'NoNewPriviledges'")
	assert.Contains(t, string(out), "Failed to parse kill mode")

	require.NoError(t, os.Remove(filepath.Join(root, "usr/local/bin/opampsupervisor")))
	require.NoError(t, os.WriteFile(unit, []byte(good), 0o644))
	out, err := exec.Command(sa, "verify", "--root="+root, "phoenix-agent.service").CombinedOutput()
	assert.Error(t, err, "a unit whose binary is missing verifies: %s", out)
	assert.Contains(t, string(out), "/usr/local/bin/opampsupervisor is not executable")
}

var exposureRE = regexp.MustCompile(`Overall exposure level for (\S+): ([0-9]+\.[0-9])`)

// documentedExposure reads the scores docs/operations.md records, from its
// "| `phoenix-agent.service` | 2.5 |" rows.
func documentedExposure(t *testing.T) map[string]string {
	t.Helper()
	re := regexp.MustCompile("(?m)^\\| `(phoenix-[a-z]+\\.service)` \\| ([0-9]+\\.[0-9]) \\|")
	out := map[string]string{}
	for _, m := range re.FindAllStringSubmatch(string(readFile(t, repoPath(t, "docs", "operations.md"))), -1) {
		out[m[1]] = m[2]
	}
	return out
}

// systemd-analyze security reviews the unit files offline (no systemd as
// PID 1 needed): the hardening scores as docs/operations.md records them,
// and a threshold a weakened unit fails.
func TestSystemdSecurityExposure(t *testing.T) {
	sa := systemdAnalyze(t)
	root := installedRoot(t)
	docs := documentedExposure(t)
	for _, unit := range phoenixUnits {
		t.Run(unit, func(t *testing.T) {
			want, ok := docs[unit]
			require.True(t, ok, "docs/operations.md records no exposure score for %s", unit)
			score, err := strconv.ParseFloat(want, 64)
			require.NoError(t, err)
			threshold := strconv.Itoa(int(score*10 + 0.5))
			out, err := exec.Command(sa, "security", "--offline=true", "--root="+root, "--threshold="+threshold, unit).CombinedOutput()
			require.NoError(t, err, "exposure above the documented %s: %s", want, out)
			m := exposureRE.FindStringSubmatch(string(out))
			require.NotNil(t, m, "%s", out)
			assert.Equal(t, want, m[2], "docs/operations.md records %s, systemd-analyze measures %s", want, m[2])
		})
	}

	t.Run("weakened unit fails", func(t *testing.T) {
		unit := filepath.Join(root, "etc/systemd/system/phoenix-server.service")
		var kept []string
		for _, l := range strings.Split(string(readFile(t, unit)), "\n") {
			if !strings.HasPrefix(l, "Protect") && !strings.HasPrefix(l, "SystemCall") && !strings.HasPrefix(l, "Private") {
				kept = append(kept, l)
			}
		}
		require.NoError(t, os.WriteFile(unit, []byte(strings.Join(kept, "\n")), 0o644))
		threshold := strconv.Itoa(int(mustFloat(t, docs["phoenix-server.service"])*10 + 0.5))
		out, err := exec.Command(sa, "security", "--offline=true", "--root="+root, "--threshold="+threshold, "phoenix-server.service").CombinedOutput()
		assert.Error(t, err, "a unit without its Protect*, Private* and SystemCall* options passes: %s", out)
	})
}

func mustFloat(t *testing.T, s string) float64 {
	t.Helper()
	f, err := strconv.ParseFloat(s, 64)
	require.NoError(t, err, "%q", s)
	return f
}
