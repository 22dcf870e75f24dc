package deployments_test

import (
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"testing"

	supconfig "github.com/open-telemetry/opentelemetry-collector-contrib/cmd/opampsupervisor/supervisor/config"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/confmap"
	"go.yaml.in/yaml/v3"

	"github.com/phoenix/platform/cli/agentidentity"
	agentcmd "github.com/phoenix/platform/cli/cmd/agent"
	"github.com/phoenix/platform/cli/localrun"
	"github.com/phoenix/platform/opamp-server/apitypes"
	"github.com/phoenix/platform/test/testenv"
)

// identityDir is where every deployment keeps the agent's identity:
// `phoenix agent enroll`'s default --dir, the systemd unit's StateDirectory
// and the DaemonSet's hostPath.
const identityDir = agentcmd.DefaultIdentityDir

// The identity the tests enroll supervisors with, and the node name
// deployments set for the supervisor.
const (
	testAgentToken  = "phxa_0123456789abcdef0123456789abcdef"
	testInstanceUID = "0190f5c2-7f3a-7c1e-9a55-2b1f3c4d5e6f"
	testNodeName    = "node-a"
	// retiredToken is what the environment holds in the tests: a
	// configuration that still reads the shared token from
	// ${env:PHOENIX_AGENT_TOKEN} sends it instead of its own.
	retiredToken = "the-retired-shared-agent-token"
)

// moveIdentity returns a supervisor configuration with every ${file:…}
// under identityDir read from dir instead.
func moveIdentity(content, dir string) string {
	return strings.ReplaceAll(content, "${file:"+identityDir+"/", "${file:"+dir+"/")
}

// loadSupervisor reads a supervisor configuration as opampsupervisor does
// (config.Load: ${file:…} and ${env:…} resolved, unknown keys are errors),
// with an identity enrolled as `phoenix agent enroll` writes it (the test
// values, in a directory standing in for identityDir) and the node name
// set to the test value.
func loadSupervisor(t *testing.T, content string) supconfig.Supervisor {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "agent")
	require.NoError(t, agentidentity.Write(dir, agentidentity.Identity{InstanceUID: testInstanceUID, Token: testAgentToken}))
	t.Setenv(apitypes.AgentTokenEnv, retiredToken)
	t.Setenv("NODE_NAME", testNodeName)
	p := testenv.WriteFile(t, t.TempDir(), "supervisor.yaml", moveIdentity(content, dir))
	cfg, err := supconfig.Load(p)
	require.NoError(t, err)
	return cfg
}

// checkPhoenixSupervisor asserts the settings Phoenix relies on, those
// cli/localrun's StartSupervisor deploys with.
func checkPhoenixSupervisor(t assert.TestingT, cfg supconfig.Supervisor) {
	if h, ok := t.(interface{ Helper() }); ok {
		h.Helper()
	}
	c := cfg.Capabilities
	assert.True(t, c.AcceptsRemoteConfig, "accepts_remote_config")
	assert.True(t, c.ReportsEffectiveConfig, "reports_effective_config")
	assert.True(t, c.ReportsOwnMetrics, "reports_own_metrics")
	assert.True(t, c.ReportsHealth, "reports_health")
	assert.True(t, c.ReportsRemoteConfig, "reports_remote_config: without it no APPLIED or FAILED arrives")

	a := cfg.Agent
	assert.True(t, a.AutomaticConfigRollback, "automatic_config_rollback")
	assert.Equal(t, localrun.ApplyTimeout, a.ConfigApplyTimeout, "config_apply_timeout")
	assert.Equal(t, localrun.BootstrapTimeout, a.BootstrapTimeout, "bootstrap_timeout: 3s is too short on a busy host")
	assert.False(t, a.ValidateConfig, "validate_config is broken upstream (OPAMP-NOTES.md); the server validates")
	assert.Positive(t, a.CollectorCrashLogSnippetKiB, "collector_crash_log_snippet_kib: the error text in FAILED")
	assert.Len(t, a.StartupFallbackConfigs, 1, "startup_fallback_configs: one complete configuration")
	assert.Equal(t, "/usr/local/bin/phoenix-collector", a.Executable)

	// The agent's own identity, read from the files `phoenix agent enroll`
	// writes: never the shared token from the environment.
	assert.Equal(t, "Bearer "+testAgentToken, cfg.Server.Headers.Get("Authorization"),
		"server.headers: Authorization: Bearer ${file:%s/%s}", identityDir, apitypes.AgentTokenFile)
	assert.Equal(t, testInstanceUID, a.InstanceID, "agent.instance_id: ${file:%s/%s}", identityDir, apitypes.AgentInstanceIDFile)
	assert.Equal(t, testAgentToken, a.Env[apitypes.AgentTokenEnv],
		"agent.env gives the collector the credential for its own telemetry: %s: ${file:%s/%s}", apitypes.AgentTokenEnv, identityDir, apitypes.AgentTokenFile)
	// The supervisor takes agent.instance_id only when it creates its state
	// and keeps the UID it finds there: a host enrolled anew must start
	// with new state, or it announces its old UID with its new credential.
	assert.Equal(t, testInstanceUID, path.Base(cfg.Storage.Directory),
		"storage.directory: one per identity, named ${file:%s/%s}", identityDir, apitypes.AgentInstanceIDFile)
	assert.False(t, strings.HasPrefix(cfg.Storage.Directory+"/", identityDir+"/"), "the storage is not the identity directory")
}

// validateSupervisor runs the supervisor's own startup validation
// (confmap.Validate, as opampsupervisor's main does) with the executable and
// fallback configuration moved to this machine: it runs the built
// phoenix-collector's validate on the fallback configuration.
func validateSupervisor(t *testing.T, cfg supconfig.Supervisor, fallback string) {
	t.Helper()
	dir := t.TempDir()
	cfg.Agent.Executable = testenv.Binary(t, "phoenix-collector")
	cfg.Agent.StartupFallbackConfigs = []string{testenv.WriteFile(t, dir, "collector.yaml", fallback)}
	cfg.Storage.Directory = filepath.Join(dir, "storage")
	require.NoError(t, confmap.Validate(cfg))
}

// healthFragment is the only thing a config_files entry may hold: it is
// merged into every configuration the collector runs.
type healthFragment struct {
	Extensions struct {
		HealthCheck struct {
			Endpoint string `yaml:"endpoint"`
		} `yaml:"health_check"`
	} `yaml:"extensions"`
	Service struct {
		Extensions []string `yaml:"extensions"`
	} `yaml:"service"`
}

// checkHealthFragment decodes a config_files entry strictly (nothing but the
// health_check extension) and validates it as the supervisor runs it on an
// agent with no assignment: merged with its no-op pipeline.
func checkHealthFragment(t *testing.T, content string) healthFragment {
	t.Helper()
	var frag healthFragment
	dec := yaml.NewDecoder(strings.NewReader(content))
	dec.KnownFields(true)
	require.NoError(t, dec.Decode(&frag), "a config_files entry holds the health_check extension only")
	assert.Equal(t, []string{"health_check"}, frag.Service.Extensions)

	var doc map[string]any
	require.NoError(t, yaml.Unmarshal([]byte(content), &doc))
	doc["receivers"] = map[string]any{"nop": nil}
	doc["exporters"] = map[string]any{"nop": nil}
	doc["service"].(map[string]any)["pipelines"] = map[string]any{
		"traces": map[string]any{"receivers": []string{"nop"}, "exporters": []string{"nop"}},
	}
	merged, err := yaml.Marshal(doc)
	require.NoError(t, err)
	validateCollectorConfig(t, testenv.WriteFile(t, t.TempDir(), "noop.yaml", string(merged)))
	return frag
}

// validateCollectorConfig validates collector configurations with
// `phoenix collector-config validate`: the collector's factories and checks.
func validateCollectorConfig(t *testing.T, files ...string) {
	t.Helper()
	out, err := exec.Command(testenv.Binary(t, "phoenix"), append([]string{"collector-config", "validate"}, files...)...).CombinedOutput()
	require.NoError(t, err, "phoenix collector-config validate: %s", out)
}

// The generic example in deployments/supervisor holds Phoenix's settings
// and reads the identity as the deployments do.
func TestSupervisorExample(t *testing.T) {
	dir := repoPath(t, "deployments", "supervisor")
	validateCollectorConfig(t, filepath.Join(dir, "collector.yaml"))
	sup := loadSupervisor(t, string(readFile(t, filepath.Join(dir, "supervisor.yaml"))))
	checkPhoenixSupervisor(t, sup)
	validateSupervisor(t, sup, string(readFile(t, filepath.Join(dir, "collector.yaml"))))
}

func TestSupervisorChecksCanFail(t *testing.T) {
	cfg := loadSupervisor(t, "server:\n  endpoint: ws://x:4320/v1/opamp\nagent:\n  executable: /usr/local/bin/phoenix-collector\n")
	var rec failureRecorder
	checkPhoenixSupervisor(&rec, cfg)
	assert.Positive(t, rec.failures, "a supervisor configuration without Phoenix's settings passes the checks")

	// A configuration that passes, but for the retired shared token.
	good := string(readFile(t, repoPath(t, "deployments", "systemd", "supervisor.yaml")))
	shared := strings.ReplaceAll(good, "${file:"+identityDir+"/"+apitypes.AgentTokenFile+"}", "${env:"+apitypes.AgentTokenEnv+"}")
	require.NotEqual(t, good, shared)
	rec = failureRecorder{}
	checkPhoenixSupervisor(&rec, loadSupervisor(t, shared))
	assert.Equal(t, 2, rec.failures, "the header and the collector's variable from the environment pass the checks")

	p := testenv.WriteFile(t, t.TempDir(), "supervisor.yaml", "server:\n  endpont: ws://x\n")
	_, err := supconfig.Load(p)
	assert.ErrorContains(t, err, "endpont", "unknown keys are errors")

	bad := testenv.WriteFile(t, t.TempDir(), "collector.yaml", "receivers:\n  nope: {}\n")
	out, err := exec.Command(testenv.Binary(t, "phoenix"), "collector-config", "validate", bad).CombinedOutput()
	assert.Error(t, err, "an invalid collector configuration validates: %s", out)
}

// failureRecorder counts the assertions that failed, for tests of checks.
type failureRecorder struct{ failures int }

func (r *failureRecorder) Errorf(string, ...any) { r.failures++ }
