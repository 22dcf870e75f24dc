package security_test

// Finding 2 of the security issue, replayed against a real `phoenix
// server`: one agent's credential speaks for that agent only. It cannot
// rewrite another agent's description, receive its configuration, report a
// status for it (which would blacklist its configuration), send its own
// telemetry, or keep a connection after it is revoked; the enrollment token
// speaks for no agent at all.

import (
	"bytes"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/open-telemetry/opamp-go/protobufs"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	"google.golang.org/protobuf/proto"

	"github.com/phoenix/platform/opamp-server/apiclient"
	"github.com/phoenix/platform/opamp-server/apitypes"
)

// spoof is what an attacker sends in the victim's name: a description that
// points the victim's exports at the attacker, and FAILED for the victim's
// assigned configuration.
func spoof(victim enrolled, hash []byte) *protobufs.AgentToServer {
	msg := describedAgent(victim.uid, 0)
	msg.AgentDescription.NonIdentifyingAttributes = []*protobufs.KeyValue{{Key: apitypes.AgentParamLabelPrefix + "otlp_endpoint",
		Value: &protobufs.AnyValue{Value: &protobufs.AnyValue_StringValue{StringValue: "attacker.example:4317"}}}}
	msg.RemoteConfigStatus = &protobufs.RemoteConfigStatus{LastRemoteConfigHash: hash,
		Status: protobufs.RemoteConfigStatuses_RemoteConfigStatuses_FAILED, ErrorMessage: "spoofed"}
	return msg
}

// wsDial opens an OpAMP WebSocket with token.
func (s *liveServer) wsDial(t *testing.T, token string) (*websocket.Conn, int) {
	t.Helper()
	conn, resp, err := websocket.DefaultDialer.DialContext(t.Context(), "ws"+strings.TrimPrefix(s.opamp, "http"),
		http.Header{"Authorization": {"Bearer " + token}})
	if resp != nil {
		_ = resp.Body.Close()
	}
	if err != nil {
		require.NotNil(t, resp, "dial: %v", err)
		return nil, resp.StatusCode
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn, http.StatusSwitchingProtocols
}

// wsSend sends one OpAMP message (a zero header byte, then the message).
func wsSend(t *testing.T, conn *websocket.Conn, msg *protobufs.AgentToServer) {
	t.Helper()
	require.NoError(t, conn.WriteMessage(websocket.BinaryMessage, append([]byte{0}, marshal(t, msg)...)))
}

// wsRead reads one OpAMP answer, or returns the read error.
func wsRead(t *testing.T, conn *websocket.Conn) (*protobufs.ServerToAgent, error) {
	t.Helper()
	require.NoError(t, conn.SetReadDeadline(time.Now().Add(10*time.Second)))
	_, raw, err := conn.ReadMessage()
	if err != nil {
		return nil, err
	}
	var out protobufs.ServerToAgent
	require.NoError(t, proto.Unmarshal(raw[1:], &out))
	return &out, nil
}

func TestOneAgentsCredentialSpeaksForNoOther(t *testing.T) {
	s := startLiveServer(t)
	admin := apiclient.New(s.api, s.token(t, "admin.token"))
	victim, attacker := s.enroll(t), s.enroll(t)

	// The victim registers and is assigned a pipeline.
	code, resp, err := s.postOpAMP(t, victim.token, bytes.NewReader(marshal(t, describedAgent(victim.uid, 2))), false)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, code)
	require.Nil(t, resp.GetErrorResponse())
	asg, err := admin.AssignAgent(t.Context(), victim.uid.String(), apitypes.AssignRequest{Pipeline: "baseline"})
	require.NoError(t, err)
	hash := []byte(asg.ConfigHash)
	before, err := admin.GetAgent(t.Context(), victim.uid.String())
	require.NoError(t, err)
	unchanged := func(t *testing.T) {
		t.Helper()
		after, err := admin.GetAgent(t.Context(), victim.uid.String())
		require.NoError(t, err)
		assert.Equal(t, before.Labels, after.Labels, "the victim's description is untouched")
		assert.Empty(t, after.FailedConfigHashes, "no status was taken in the victim's name")
		assert.NotEqual(t, apitypes.ConfigStatusFailed, after.RemoteConfig.Status)
	}

	t.Run("plain HTTP in another agent's name is a 403", func(t *testing.T) {
		refused := s.refused(t, "opamp", "wrong_agent")
		code, resp, err := s.postOpAMP(t, attacker.token, bytes.NewReader(marshal(t, spoof(victim, hash))), false)
		require.NoError(t, err)
		assert.Equal(t, http.StatusForbidden, code)
		assert.Nil(t, resp, "no configuration of the victim's reaches the attacker")
		assert.InDelta(t, refused+1, s.refused(t, "opamp", "wrong_agent"), 0)
		unchanged(t)
	})

	t.Run("a WebSocket message in another agent's name is refused and the connection closed", func(t *testing.T) {
		refused := s.refused(t, "opamp", "wrong_agent")
		conn, status := s.wsDial(t, attacker.token)
		require.Equal(t, http.StatusSwitchingProtocols, status, "the attacker's own credential is valid")
		wsSend(t, conn, spoof(victim, hash))
		answer, err := wsRead(t, conn)
		require.NoError(t, err)
		require.NotNil(t, answer.GetErrorResponse())
		assert.Contains(t, answer.GetErrorResponse().GetErrorMessage(), "refused")
		assert.Nil(t, answer.GetRemoteConfig())
		_, err = wsRead(t, conn)
		assert.Error(t, err, "the server closes the connection")
		assert.InDelta(t, refused+1, s.refused(t, "opamp", "wrong_agent"), 0)
		unchanged(t)
	})

	t.Run("the enrollment token speaks for no agent", func(t *testing.T) {
		refused := s.refused(t, "opamp", "not_an_agent")
		code, _, err := s.postOpAMP(t, s.token(t, "enroll.token"), bytes.NewReader(marshal(t, spoof(victim, hash))), false)
		require.NoError(t, err)
		assert.Equal(t, http.StatusForbidden, code)
		_, status := s.wsDial(t, s.token(t, "enroll.token"))
		assert.Equal(t, http.StatusForbidden, status)
		assert.InDelta(t, refused+2, s.refused(t, "opamp", "not_an_agent"), 0)
		unchanged(t)
	})

	t.Run("own telemetry in another agent's name is refused whole", func(t *testing.T) {
		refused := s.refused(t, "own_telemetry", "wrong_agent")
		md := pmetric.NewMetrics()
		for _, uid := range []string{attacker.uid.String(), victim.uid.String()} {
			rm := md.ResourceMetrics().AppendEmpty()
			rm.Resource().Attributes().PutStr("service.instance.id", uid)
			m := rm.ScopeMetrics().AppendEmpty().Metrics().AppendEmpty()
			m.SetName("otelcol_process_memory_rss")
			dp := m.SetEmptyGauge().DataPoints().AppendEmpty()
			dp.SetDoubleValue(1)
			dp.SetTimestamp(nowTimestamp())
		}
		body, err := pmetricotlp.NewExportRequestFromMetrics(md).MarshalProto()
		require.NoError(t, err)
		req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, s.api+"/v1/metrics", bytes.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/x-protobuf")
		req.Header.Set("Authorization", "Bearer "+attacker.token)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		_ = resp.Body.Close()
		assert.Equal(t, http.StatusForbidden, resp.StatusCode)
		assert.InDelta(t, refused+1, s.refused(t, "own_telemetry", "wrong_agent"), 0)
		samples, err := admin.AgentMetrics(t.Context(), victim.uid.String(), "", "", time.Time{}, time.Time{})
		require.NoError(t, err)
		assert.Empty(t, samples, "nothing of the export is stored")
	})

	t.Run("an enrollment cannot claim an existing agent", func(t *testing.T) {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, s.api+apitypes.Prefix+"/agents/enroll",
			strings.NewReader(`{"instance_uid": "`+victim.uid.String()+`"}`))
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+s.token(t, "enroll.token"))
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		_ = resp.Body.Close()
		assert.Equal(t, http.StatusBadRequest, resp.StatusCode, "the server chooses every instance UID")
		stored, err := admin.GetAgent(t.Context(), victim.uid.String())
		require.NoError(t, err)
		assert.Equal(t, before.FirstSeen, stored.FirstSeen)
	})
}

func TestARevokedCredentialLosesItsConnection(t *testing.T) {
	s := startLiveServer(t)
	admin := apiclient.New(s.api, s.token(t, "admin.token"))
	agent := s.enroll(t)
	conn, status := s.wsDial(t, agent.token)
	require.Equal(t, http.StatusSwitchingProtocols, status)
	wsSend(t, conn, describedAgent(agent.uid, 1))
	answer, err := wsRead(t, conn)
	require.NoError(t, err)
	require.Nil(t, answer.GetErrorResponse())

	require.NoError(t, admin.RevokeCredential(t.Context(), agent.uid.String()))
	_, err = wsRead(t, conn)
	assert.Error(t, err, "revoking closes the live connection")

	invalid := s.refused(t, "opamp", "invalid_token")
	_, status = s.wsDial(t, agent.token)
	assert.Equal(t, http.StatusUnauthorized, status)
	code, _, err := s.postOpAMP(t, agent.token, bytes.NewReader(marshal(t, describedAgent(agent.uid, 1))), false)
	require.NoError(t, err)
	assert.Equal(t, http.StatusUnauthorized, code)
	assert.InDelta(t, invalid+2, s.refused(t, "opamp", "invalid_token"), 0)
}

func nowTimestamp() pcommon.Timestamp { return pcommon.NewTimestampFromTime(time.Now()) }
