package deployments_test

import (
	"bufio"
	"fmt"
	"path"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/phoenix/platform/opamp-server/apitypes"
)

// unitFile is a parsed systemd unit: section → key → values in order (a
// key may repeat; an empty assignment resets it, as systemd does).
type unitFile map[string]map[string][]string

func parseUnit(raw string) (unitFile, error) {
	u := unitFile{}
	section := ""
	sc := bufio.NewScanner(strings.NewReader(raw))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";"):
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			section = line[1 : len(line)-1]
			u[section] = map[string][]string{}
		case section == "":
			return nil, fmt.Errorf("line %d: %q outside a section", n, line)
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok {
				return nil, fmt.Errorf("line %d: %q is not key=value", n, line)
			}
			k, v = strings.TrimSpace(k), strings.TrimSpace(v)
			if v == "" {
				u[section][k] = []string{""}
				continue
			}
			if len(u[section][k]) == 1 && u[section][k][0] == "" {
				u[section][k] = nil
			}
			u[section][k] = append(u[section][k], v)
		}
	}
	return u, sc.Err()
}

// get returns a key's last value, failing when it is not set.
func (u unitFile) get(tb testing.TB, section, key string) string {
	tb.Helper()
	vs := u[section][key]
	require.NotEmpty(tb, vs, "[%s] %s is not set", section, key)
	return vs[len(vs)-1]
}

// words returns a key's values split into words, all assignments joined.
func (u unitFile) words(section, key string) []string {
	var out []string
	for _, v := range u[section][key] {
		out = append(out, strings.Fields(v)...)
	}
	return out
}

func loadUnit(tb testing.TB, name string) unitFile {
	tb.Helper()
	u, err := parseUnit(string(readFile(tb, repoPath(tb, "deployments", "systemd", name))))
	require.NoError(tb, err, name)
	return u
}

// sysusersUser returns the user a sysusers.d file declares.
func sysusersUser(tb testing.TB, name string) string {
	tb.Helper()
	for _, l := range strings.Split(string(readFile(tb, repoPath(tb, "deployments", "systemd", name))), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "u" {
			return f[1]
		}
	}
	tb.Fatalf("%s declares no user", name)
	return ""
}

// hardening is what both units set, whatever they run.
var hardening = map[string]string{
	"NoNewPrivileges": "yes", "ProtectSystem": "strict", "PrivateTmp": "yes", "PrivateDevices": "yes",
	"ProtectKernelTunables": "yes", "ProtectKernelModules": "yes", "ProtectControlGroups": "yes",
	"RestrictSUIDSGID": "yes", "LockPersonality": "yes", "MemoryDenyWriteExecute": "yes",
	"SystemCallArchitectures": "native", "UMask": "0077", "StateDirectoryMode": "0700",
}

func TestServerUnit(t *testing.T) {
	u := loadUnit(t, "phoenix-server.service")
	for k, v := range hardening {
		assert.Equal(t, v, u.get(t, "Service", k), k)
	}
	assert.Equal(t, sysusersUser(t, "phoenix-server.sysusers"), u.get(t, "Service", "User"))
	assert.Equal(t, []string{"/usr/local/bin/phoenix", "server", "--config", "/etc/phoenix/server.yaml"},
		strings.Fields(u.get(t, "Service", "ExecStart")))
	assert.Equal(t, "", u.get(t, "Service", "CapabilityBoundingSet"), "the server needs no capability")
	assert.Equal(t, "", u.get(t, "Service", "AmbientCapabilities"))
	assert.Equal(t, "-/etc/phoenix/server.env", u.get(t, "Service", "EnvironmentFile"), "optional: only PostgreSQL needs it")

	cfg := loadServerConfig(t, readFile(t, repoPath(t, "deployments", "systemd", "server.yaml")))
	assert.Equal(t, "/var/lib/"+u.get(t, "Service", "StateDirectory"), cfg.DataDir, "data_dir is the StateDirectory")
	assert.Empty(t, cfg.Store, "the embedded store by default")
	assert.Equal(t, "multi-user.target", u.get(t, "Install", "WantedBy"))
}

func TestAgentUnit(t *testing.T) {
	u := loadUnit(t, "phoenix-agent.service")
	for k, v := range hardening {
		assert.Equal(t, v, u.get(t, "Service", k), k)
	}
	user := u.get(t, "Service", "User")
	assert.Equal(t, sysusersUser(t, "phoenix-agent.sysusers"), user)
	assert.NotEqual(t, loadUnit(t, "phoenix-server.service").get(t, "Service", "User"), user,
		"neither may signal the other or write to the other's state")
	assert.Equal(t, []string{"/usr/local/bin/opampsupervisor", "--config", "/etc/phoenix/supervisor.yaml"},
		strings.Fields(u.get(t, "Service", "ExecStart")))
	assert.NotContains(t, u["Service"], "EnvironmentFile", "no secret in the environment: the identity is read from files")
	assert.Equal(t, "mixed", u.get(t, "Service", "KillMode"), "the supervisor stops its collector itself")

	// Exactly the capabilities that read other processes' /proc entries,
	// ambient so that a non-root user has them and the collector inherits them.
	want := []string{"CAP_DAC_READ_SEARCH", "CAP_SYS_PTRACE"}
	for _, k := range []string{"CapabilityBoundingSet", "AmbientCapabilities"} {
		got := u.words("Service", k)
		assert.ElementsMatch(t, want, got, k)
	}
	// /proc must stay whole for the collector to see other processes.
	assert.NotContains(t, u["Service"], "ProtectProc")
	assert.NotContains(t, u["Service"], "ProcSubset")
	assert.NotContains(t, u["Service"], "PrivateUsers", "capabilities in a user namespace reach nothing")

	// Two state directories, the service's own: the supervisor's storage
	// and the agent's identity, which phoenix agent enroll writes.
	sup := loadSupervisor(t, string(readFile(t, repoPath(t, "deployments", "systemd", "supervisor.yaml"))))
	var states []string
	for _, d := range u.words("Service", "StateDirectory") {
		states = append(states, "/var/lib/"+d)
	}
	assert.ElementsMatch(t, []string{path.Dir(sup.Storage.Directory), identityDir}, states,
		"StateDirectory: the supervisors' storage (one per identity) and the identity directory")
	assert.Equal(t, identityDir+"/"+apitypes.AgentTokenFile, u.get(t, "Unit", "AssertPathExists"),
		"not enrolled: the unit fails at once instead of restarting the supervisor")
	assert.Equal(t, []string{"/etc/phoenix/collector.yaml"}, sup.Agent.StartupFallbackConfigs)
	assert.Empty(t, sup.Agent.ConfigFiles, "nothing is merged into the server's configurations")
}

func TestParseUnit(t *testing.T) {
	u, err := parseUnit("[Service]\nA=1\nA=2 3\nB=x\nB=\nB=y\n")
	require.NoError(t, err)
	assert.Equal(t, []string{"1", "2", "3"}, u.words("Service", "A"))
	assert.Equal(t, []string{"y"}, u["Service"]["B"], "an empty assignment resets")
	for _, bad := range []string{"A=1\n", "[S]\nnot a pair\n"} {
		_, err := parseUnit(bad)
		assert.Error(t, err, bad)
	}
}

func TestSystemdConfigFiles(t *testing.T) {
	dir := repoPath(t, "deployments", "systemd")
	validateCollectorConfig(t, filepath.Join(dir, "collector.yaml"))
	sup := loadSupervisor(t, string(readFile(t, filepath.Join(dir, "supervisor.yaml"))))
	checkPhoenixSupervisor(t, sup)
	assert.Equal(t, "vm", sup.Agent.Description.NonIdentifyingAttributes["phoenix.deployment"])
	validateSupervisor(t, sup, string(readFile(t, filepath.Join(dir, "collector.yaml"))))
	loadServerConfig(t, readFile(t, filepath.Join(dir, "server.yaml")))
	assert.NoFileExists(t, filepath.Join(dir, "agent.env"), "the shared agent token's environment file is gone")
}
