// Package security_test replays security findings against live Phoenix
// processes (docs/security.md).
package security_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/phoenix/platform/opamp-server/apitypes"
	"github.com/phoenix/platform/opamp-server/auth"
	"github.com/phoenix/platform/test/harness"
)

func randomHex(t *testing.T) string {
	t.Helper()
	b := make([]byte, 24)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return hex.EncodeToString(b)
}

// call sends one API request with a token and returns the status and body.
func call(t *testing.T, srv *harness.Server, token, method, path string, body any) (int, string) {
	t.Helper()
	raw, err := json.Marshal(body)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, srv.API+apitypes.Prefix+path, bytes.NewReader(raw))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(out)
}

// transform is a configuration whose transform processor takes its
// statement and error_mode as given.
func transform(statement, errorMode string) string {
	return `receivers: {otlp: {protocols: {grpc: {endpoint: "127.0.0.1:0"}}}}
processors:
  transform: {error_mode: "` + errorMode + `", metric_statements: ["` + statement + `"]}
exporters: {nop: {}}
service: {pipelines: {metrics: {receivers: [otlp], processors: [transform], exporters: [nop]}}}
`
}

// TestValidationAndVerbatimHostAccess replays issue #12's findings 1 and 6
// against a `phoenix server` process: a viewer's validation read the
// server's admin token file and environment, and echoed them; an operator's
// verbatim configuration could make every agent read any of its host's
// files or variables, or write its files.
func TestValidationAndVerbatimHostAccess(t *testing.T) {
	secret := "phx-env-" + randomHex(t)
	t.Setenv("PHOENIX_SECURITY_TEST_SECRET", secret) // inherited by the server

	// The server's data directory holds its admin token, as it does when
	// the server generates it; tokens.yaml adds a viewer and an operator.
	dataDir := t.TempDir()
	tokens := map[auth.Role]string{}
	var entries []string
	for _, role := range []auth.Role{auth.RoleAdmin, auth.RoleViewer, auth.RoleOperator, auth.RoleEnroll} {
		tokens[role] = randomHex(t)
		entries = append(entries, "  - {name: "+string(role)+", token_sha256: "+auth.Digest(tokens[role])+", roles: ["+string(role)+"]}")
	}
	tokenFile := filepath.Join(dataDir, "admin.token")
	require.NoError(t, os.WriteFile(tokenFile, []byte(tokens[auth.RoleAdmin]+"\n"), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dataDir, "tokens.yaml"), []byte("tokens:\n"+strings.Join(entries, "\n")+"\n"), 0o600))
	srv := harness.StartServer(t, harness.ServerOptions{DataDir: dataDir, AdminToken: tokens[auth.RoleAdmin], EnrollToken: tokens[auth.RoleEnroll]})

	// Finding 1: validation resolves nothing, and says what assigning needs.
	for name, config := range map[string]string{
		"file in a statement":   transform("${file:"+tokenFile+"}", "propagate"),
		"file as error_mode":    transform(`set(resource.attributes[\"a\"], \"b\")`, "${file:"+tokenFile+"}"),
		"env as error_mode":     transform(`set(resource.attributes[\"a\"], \"b\")`, "${env:PHOENIX_SECURITY_TEST_SECRET}"),
		"env in a statement":    transform("${PHOENIX_SECURITY_TEST_SECRET}", "propagate"),
		"env inline, statement": transform(`set(resource.attributes[\"a\"], \"${env:PHOENIX_SECURITY_TEST_SECRET}\") x`, "propagate"),
	} {
		status, body := call(t, srv, tokens[auth.RoleViewer], http.MethodPost, "/pipelines/validate", map[string]string{"config": config})
		assert.Equal(t, http.StatusUnprocessableEntity, status, "%s: %s", name, body)
		assert.NotContains(t, body, tokens[auth.RoleAdmin], "%s: a viewer read the server's admin token", name)
		assert.NotContains(t, body, secret, "%s: a viewer read the server's environment", name)
	}
	valid := transform(`set(resource.attributes[\"a\"], \"${file:`+tokenFile+`}\")`, "propagate")
	status, body := call(t, srv, tokens[auth.RoleViewer], http.MethodPost, "/pipelines/validate", map[string]string{"config": valid})
	require.Equal(t, http.StatusOK, status, body)
	assert.NotContains(t, body, tokens[auth.RoleAdmin])
	assert.Contains(t, body, `"requires_admin": true`)

	// Finding 6: an operator's verbatim configuration may not reach into
	// the hosts; an admin's may; the catalog is the operator's.
	agent := harness.StartAgent(t, srv, harness.AgentOptions{Name: "security"})
	before, err := srv.Client().GetAgent(t.Context(), agent.UID)
	require.NoError(t, err)
	fileExporter := `receivers: {otlp: {protocols: {grpc: {endpoint: "127.0.0.1:0"}}}}
exporters: {file: {path: /tmp/phoenix-security-test-never-written}}
service: {pipelines: {metrics: {receivers: [otlp], exporters: [file]}}}
`
	for name, tc := range map[string]struct{ config, mention string }{
		"file reference":   {valid, "${file:" + tokenFile + "} reads file " + tokenFile},
		"unknown variable": {transform(`set(resource.attributes[\"a\"], \"${env:PHOENIX_SECURITY_TEST_SECRET}\")`, "propagate"), "reads environment variable PHOENIX_SECURITY_TEST_SECRET"},
		"file exporter":    {fileExporter, "exporters::file: writes files on the host"},
	} {
		status, body := call(t, srv, tokens[auth.RoleOperator], http.MethodPut, "/agents/"+agent.UID+"/config", map[string]string{"config": tc.config})
		assert.Equal(t, http.StatusForbidden, status, "%s: %s", name, body)
		assert.Contains(t, body, `"code": "forbidden"`, name)
		assert.Contains(t, body, "needs the admin role", name)
		assert.Contains(t, body, tc.mention, name)
		status, body = call(t, srv, tokens[auth.RoleOperator], http.MethodPost, "/assignments",
			map[string]string{"config": tc.config, "selector": "phoenix.test.agent=security"})
		assert.Equal(t, http.StatusForbidden, status, "%s: %s", name, body)
	}
	after, err := srv.Client().GetAgent(t.Context(), agent.UID)
	require.NoError(t, err)
	assert.Equal(t, before.Assignment, after.Assignment, "nothing was stored")

	status, body = call(t, srv, tokens[auth.RoleOperator], http.MethodPut, "/agents/"+agent.UID+"/config",
		map[string]any{"pipeline": "baseline", "parameters": map[string]any{"destination": "newrelic"}})
	assert.Equal(t, http.StatusOK, status, "an operator assigns catalog pipelines: %s", body)
	status, body = call(t, srv, tokens[auth.RoleAdmin], http.MethodPut, "/agents/"+agent.UID+"/config", map[string]string{"config": valid})
	assert.Equal(t, http.StatusOK, status, "an admin may: %s", body)
}
