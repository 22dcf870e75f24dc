package security_test

// Findings 5 and 7 of the security issue, replayed against a real `phoenix
// server` process: selectors that selected every agent, a server that hung
// on a slow client, secrets shown to viewers, `--no-auth` off loopback,
// unbounded experiments, and parameter quoting that changed a value.
// (Finding 7's frozen PostgreSQL is replayed by the control plane's
// TestAFrozenStoreIsA503, the CLI's token locality by cmdutil's tests and
// the deploy resumed after a crash by the experiment controller's.)

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/open-telemetry/opamp-go/protobufs"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/phoenix/platform/cli/localrun"
	"github.com/phoenix/platform/opamp-server/apiclient"
	"github.com/phoenix/platform/opamp-server/apitypes"
	"github.com/phoenix/platform/test/testenv"
)

func TestSelectorsThatSelectedEveryAgentAreRefused(t *testing.T) {
	s := startLiveServer(t)
	admin := apiclient.New(s.api, s.token(t, "admin.token"))
	agent := s.enroll(t)
	code, _, err := s.postOpAMP(t, agent.token, bytes.NewReader(marshal(t, describedAgent(agent.uid, 1))), false)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, code)

	for _, sel := range []string{"", ",", " , ", "env=nosuch!=zzz", "=x", "env", "env=~("} {
		_, err := admin.AssignMany(t.Context(), apitypes.BulkAssignRequest{Selector: sel,
			AssignRequest: apitypes.AssignRequest{Pipeline: "baseline"}})
		assert.True(t, apiclient.IsStatus(err, http.StatusBadRequest), "selector %q: %v", sel, err)
	}
	v, err := admin.GetAgent(t.Context(), agent.uid.String())
	require.NoError(t, err)
	assert.Nil(t, v.Assignment, "nothing was assigned")
}

func TestASlowClientIsCutOff(t *testing.T) {
	s := startLiveServer(t)
	for _, addr := range []string{strings.TrimPrefix(s.api, "http://"), strings.TrimPrefix(strings.TrimSuffix(s.opamp, "/v1/opamp"), "http://")} {
		conn, err := net.Dial("tcp", addr)
		require.NoError(t, err)
		// Headers that never end: the server closes the connection once
		// its header timeout passes, instead of holding it open.
		_, err = fmt.Fprintf(conn, "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
		require.NoError(t, err)
		require.NoError(t, conn.SetReadDeadline(time.Now().Add(30*time.Second)))
		start := time.Now()
		_, err = bufio.NewReader(conn).ReadString('\n')
		assert.Error(t, err, "%s: the connection ends", addr)
		assert.Less(t, time.Since(start), 25*time.Second, "%s: cut off by the server, not the test's deadline", addr)
		_ = conn.Close()
	}
}

func TestSecretsAgentsReportAreNotShown(t *testing.T) {
	s := startLiveServer(t)
	viewerless := apiclient.New(s.api, s.token(t, "admin.token"))
	agent := s.enroll(t)
	const secret = "s3cr3t-value-9f8e7d"
	msg := describedAgent(agent.uid, 1)
	msg.EffectiveConfig = &protobufs.EffectiveConfig{ConfigMap: &protobufs.AgentConfigMap{ConfigMap: map[string]*protobufs.AgentConfigFile{
		"": {Body: []byte("exporters:\n  otlp_http:\n    headers:\n      Authorization: Bearer " + secret + "\n      x-api-key: " + secret + "\n")},
	}}}
	code, _, err := s.postOpAMP(t, agent.token, bytes.NewReader(marshal(t, msg)), false)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, code)

	status, raw := s.apiGet(t, apitypes.Prefix+"/agents/"+agent.uid.String())
	require.Equal(t, http.StatusOK, status)
	assert.NotContains(t, string(raw), secret)
	assert.Contains(t, string(raw), "redacted")
	v, err := viewerless.GetAgent(t.Context(), agent.uid.String())
	require.NoError(t, err)
	assert.NotContains(t, v.EffectiveConfig, secret)
}

func TestNoAuthIsRefusedOffLoopback(t *testing.T) {
	port, err := localrun.FreePort()
	require.NoError(t, err)
	out, err := exec.Command(testenv.Binary(t, "phoenix"), "server", "--no-auth", "--data-dir", t.TempDir(),
		"--api-listen", fmt.Sprintf("0.0.0.0:%d", port), "--opamp-listen", "127.0.0.1:0").CombinedOutput()
	require.Error(t, err, "the server must not start: %s", out)
	assert.Contains(t, string(out), "no_auth")
	assert.Contains(t, string(out), "not a loopback address")
}

func TestUnboundedExperimentsAreRefusedAtCreate(t *testing.T) {
	s := startLiveServer(t)
	admin := apiclient.New(s.api, s.token(t, "admin.token"))
	base := apitypes.ExperimentSpec{Name: "bounded", Targets: apitypes.Targets{Selector: "env=prod"},
		Baseline: apitypes.Variant{Pipeline: "baseline"}, Candidate: apitypes.Variant{Pipeline: "topk-rollup"},
		Duration: apitypes.Duration(10 * time.Minute)}
	for name, spec := range map[string]func(apitypes.ExperimentSpec) apitypes.ExperimentSpec{
		"a 292-year experiment": func(s apitypes.ExperimentSpec) apitypes.ExperimentSpec {
			s.Duration = apitypes.Duration(292 * 365 * 24 * time.Hour)
			return s
		},
		"a day of warm-up": func(s apitypes.ExperimentSpec) apitypes.ExperimentSpec {
			s.Warmup = apitypes.Duration(24 * time.Hour)
			return s
		},
		"a candidate with k: 0": func(s apitypes.ExperimentSpec) apitypes.ExperimentSpec {
			s.Candidate.Parameters = map[string]any{"k": 0}
			return s
		},
	} {
		_, err := admin.CreateExperiment(t.Context(), spec(base), false)
		assert.True(t, apiclient.IsStatus(err, http.StatusBadRequest) || apiclient.IsStatus(err, http.StatusUnprocessableEntity),
			"%s: %v", name, err)
	}
	exps, err := admin.Experiments(t.Context())
	require.NoError(t, err)
	assert.Empty(t, exps, "nothing was created")
}

func TestParameterQuotingKeepsEveryCharacter(t *testing.T) {
	s := startLiveServer(t)
	admin := apiclient.New(s.api, s.token(t, "admin.token"))
	// U+0085 (NEL) is a line break to YAML: unescaped it turned into a
	// space, so the value rendered was not the value given.
	value := "tenant\u0085one\u2028two\ufeff"
	r, err := admin.RenderPipeline(t.Context(), "baseline", map[string]any{
		"critical_rules": []any{map[string]any{"name": "owners", "owner": value}}})
	require.NoError(t, err)
	assert.NotContains(t, r.Config, "\u0085", "the raw character never reaches the YAML")
	assert.Contains(t, r.Config, `\N`)
}
