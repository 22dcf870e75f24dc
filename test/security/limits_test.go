package security_test

// The limits on agent input, replayed against a real `phoenix server`
// (bin/phoenix, built by `make build`): each attack of issue #12 items 3
// and 4 is refused, counted, stores nothing, and the server's memory stays
// bounded throughout.

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/gorilla/websocket"
	"github.com/open-telemetry/opamp-go/protobufs"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/phoenix/platform/opamp-server/apitypes"
)

// maxServerMemory is the most resident memory the server may ever reach
// while it is attacked (VmHWM, its peak).
const maxServerMemory = 512 << 20

func gzipStream(t *testing.T, src io.Reader) io.Reader {
	t.Helper()
	pr, pw := io.Pipe()
	go func() {
		zw := gzip.NewWriter(pw)
		_, err := io.Copy(zw, src)
		if err == nil {
			err = zw.Close()
		}
		_ = pw.CloseWithError(err)
	}()
	t.Cleanup(func() { _ = pr.Close() })
	return pr
}

// gzipBomb is a gzip stream of `copies` members of 64 MiB of zeros each:
// one member is compressed once (about 64 KiB) and sent again and again,
// so the bomb costs the test nothing and any size can be sent; a gzip
// reader inflates the members as one stream.
func gzipBomb(t *testing.T, copies int) io.Reader {
	t.Helper()
	var member bytes.Buffer
	zw, err := gzip.NewWriterLevel(&member, gzip.BestCompression)
	require.NoError(t, err)
	_, err = io.Copy(zw, io.LimitReader(zeros{}, 64<<20))
	require.NoError(t, err)
	require.NoError(t, zw.Close())
	readers := make([]io.Reader, copies)
	for i := range readers {
		readers[i] = bytes.NewReader(member.Bytes())
	}
	return io.MultiReader(readers...)
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// repeated is size bytes of line again and again.
func repeated(line string, size int64) io.Reader {
	return io.LimitReader(&repeatReader{line: line}, size)
}

type repeatReader struct {
	line string
	off  int
}

func (r *repeatReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = r.line[(r.off+i)%len(r.line)]
	}
	r.off = (r.off + len(p)) % len(r.line)
	return len(p), nil
}

// effectiveConfigMessage streams an AgentToServer whose effective config
// (config-map key "") is size bytes of YAML, encoded field by field so the
// message is never held whole.
func effectiveConfigMessage(uid uuid.UUID, size int64) io.Reader {
	file := protowire.AppendTag(nil, 1, protowire.BytesType) // AgentConfigFile.body
	file = protowire.AppendVarint(file, uint64(size))
	fileLen := int64(len(file)) + size

	entry := protowire.AppendTag(nil, 1, protowire.BytesType) // map entry key ""
	entry = protowire.AppendVarint(entry, 0)
	entry = protowire.AppendTag(entry, 2, protowire.BytesType) // map entry value
	entry = protowire.AppendVarint(entry, uint64(fileLen))
	entryLen := int64(len(entry)) + fileLen

	configMap := protowire.AppendTag(nil, 1, protowire.BytesType) // AgentConfigMap.config_map
	configMap = protowire.AppendVarint(configMap, uint64(entryLen))
	configMapLen := int64(len(configMap)) + entryLen

	effective := protowire.AppendTag(nil, 1, protowire.BytesType) // EffectiveConfig.config_map
	effective = protowire.AppendVarint(effective, uint64(configMapLen))
	effectiveLen := int64(len(effective)) + configMapLen

	msg := protowire.AppendTag(nil, 1, protowire.BytesType) // AgentToServer.instance_uid
	msg = protowire.AppendBytes(msg, uid[:])
	msg = protowire.AppendTag(msg, 6, protowire.BytesType) // AgentToServer.effective_config
	msg = protowire.AppendVarint(msg, uint64(effectiveLen))

	var prefix []byte
	for _, part := range [][]byte{msg, effective, configMap, entry, file} {
		prefix = append(prefix, part...)
	}
	return io.MultiReader(bytes.NewReader(prefix), repeated("receivers: {}\n", size))
}

func marshal(t *testing.T, msg proto.Message) []byte {
	t.Helper()
	raw, err := proto.Marshal(msg)
	require.NoError(t, err)
	return raw
}

func describedAgent(uid uuid.UUID, attributes int) *protobufs.AgentToServer {
	kvs := make([]*protobufs.KeyValue, attributes)
	for i := range kvs {
		kvs[i] = &protobufs.KeyValue{Key: fmt.Sprintf("attr.%d", i),
			Value: &protobufs.AnyValue{Value: &protobufs.AnyValue_StringValue{StringValue: "v"}}}
	}
	return &protobufs.AgentToServer{InstanceUid: uid[:], SequenceNum: 1, AgentDescription: &protobufs.AgentDescription{
		IdentifyingAttributes: []*protobufs.KeyValue{{Key: "service.name",
			Value: &protobufs.AnyValue{Value: &protobufs.AnyValue_StringValue{StringValue: "phoenix-collector"}}}},
		NonIdentifyingAttributes: kvs,
	}}
}

func TestStreamedEffectiveConfigIsARealOpAMPMessage(t *testing.T) {
	uid := uuid.New()
	raw, err := io.ReadAll(effectiveConfigMessage(uid, 100))
	require.NoError(t, err)
	var msg protobufs.AgentToServer
	require.NoError(t, proto.Unmarshal(raw, &msg))
	assert.Equal(t, uid[:], msg.GetInstanceUid())
	body := msg.GetEffectiveConfig().GetConfigMap().GetConfigMap()[""].GetBody()
	assert.Len(t, body, 100)
	assert.True(t, strings.HasPrefix(string(body), "receivers: {}\nreceivers: {}\n"))
}

func TestLimitsOnAgentInput(t *testing.T) {
	s := startLiveServer(t)
	const opamp, own = "opamp", "own_telemetry"

	t.Run("a gzip bomb is refused while reading", func(t *testing.T) {
		before := s.rejected(t, opamp, "body_too_large")
		start := time.Now()
		// 160 members of 64 MiB: 10 GiB of zeros in about 10 MB.
		code, _, err := s.postOpAMP(t, s.enroll(t).token, gzipBomb(t, 160), true)
		if err == nil {
			assert.Equal(t, http.StatusRequestEntityTooLarge, code)
		}
		t.Logf("refused in %s (status %d, client error %v)", time.Since(start), code, err)
		assert.InDelta(t, before+1, s.rejected(t, opamp, "body_too_large"), 0)
		assert.True(t, s.ready(), "the server survives")
		assert.Less(t, s.peakMemory(t), int64(maxServerMemory))
	})

	t.Run("a 64 MiB effective config is refused and not stored", func(t *testing.T) {
		agent := s.enroll(t)
		uid := agent.uid
		before := s.rejected(t, opamp, "body_too_large")
		code, _, err := s.postOpAMP(t, agent.token, gzipStream(t, effectiveConfigMessage(uid, 64<<20)), true)
		if err == nil {
			assert.Equal(t, http.StatusRequestEntityTooLarge, code)
		}
		assert.InDelta(t, before+1, s.rejected(t, opamp, "body_too_large"), 0)
		assert.False(t, s.agentStored(t, uid))

		// Within the transport's limits, over the effective config's own.
		before = s.rejected(t, opamp, "config_too_large")
		code, resp, err := s.postOpAMP(t, agent.token, effectiveConfigMessage(uid, 2<<20), false)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, code)
		require.NotNil(t, resp.GetErrorResponse())
		assert.Equal(t, protobufs.ServerErrorResponseType_ServerErrorResponseType_BadRequest, resp.GetErrorResponse().GetType())
		assert.InDelta(t, before+1, s.rejected(t, opamp, "config_too_large"), 0)
		assert.False(t, s.agentStored(t, uid))
	})

	t.Run("100k description attributes are refused and not stored", func(t *testing.T) {
		agent := s.enroll(t)
		uid := agent.uid
		before := s.rejected(t, opamp, "too_many_attributes")
		code, resp, err := s.postOpAMP(t, agent.token, bytes.NewReader(marshal(t, describedAgent(uid, 100_000))), false)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, code)
		require.NotNil(t, resp.GetErrorResponse())
		assert.Contains(t, resp.GetErrorResponse().GetErrorMessage(), "attributes")
		assert.InDelta(t, before+1, s.rejected(t, opamp, "too_many_attributes"), 0)
		assert.False(t, s.agentStored(t, uid))
	})

	t.Run("a WebSocket message over the read limit closes the connection", func(t *testing.T) {
		agent := s.enroll(t)
		uid := agent.uid
		before := s.rejected(t, opamp, "message_too_large")
		conn, resp, err := websocket.DefaultDialer.DialContext(t.Context(), "ws"+strings.TrimPrefix(s.opamp, "http"),
			http.Header{"Authorization": {"Bearer " + agent.token}})
		require.NoError(t, err)
		_ = resp.Body.Close()
		defer conn.Close()
		raw, err := io.ReadAll(effectiveConfigMessage(uid, 8<<20))
		require.NoError(t, err)
		_ = conn.WriteMessage(websocket.BinaryMessage, append([]byte{0}, raw...)) // the server may close first
		require.NoError(t, conn.SetReadDeadline(time.Now().Add(10*time.Second)))
		_, _, err = conn.ReadMessage()
		assert.True(t, websocket.IsCloseError(err, websocket.CloseMessageTooBig), "%v", err)
		require.Eventually(t, func() bool { return s.rejected(t, opamp, "message_too_large") == before+1 },
			5*time.Second, 50*time.Millisecond)
		assert.False(t, s.agentStored(t, uid))
	})

	t.Run("NaN and year-2500 samples are dropped and the metrics stay valid JSON", func(t *testing.T) {
		agent := s.enroll(t)
		uid := agent.uid
		code, resp, err := s.postOpAMP(t, agent.token, bytes.NewReader(marshal(t, describedAgent(uid, 3))), false)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, code)
		require.Nil(t, resp.GetErrorResponse())
		require.True(t, s.agentStored(t, uid))

		now := time.Now()
		md := pmetric.NewMetrics()
		rm := md.ResourceMetrics().AppendEmpty()
		rm.Resource().Attributes().PutStr("service.instance.id", uid.String())
		ms := rm.ScopeMetrics().AppendEmpty().Metrics()
		for _, p := range []struct {
			name  string
			value float64
			at    pcommon.Timestamp
		}{
			{"otelcol_process_memory_rss", 1.5e6, pcommon.NewTimestampFromTime(now)},
			{"otelcol_process_cpu_seconds", math.NaN(), pcommon.NewTimestampFromTime(now)},
			// Year 2500: past what int64 nanoseconds hold, as OTLP can send it.
			{"otelcol_process_uptime", 42, pcommon.Timestamp(16725225600 * 1e9)},
		} {
			m := ms.AppendEmpty()
			m.SetName(p.name)
			dp := m.SetEmptyGauge().DataPoints().AppendEmpty()
			dp.SetDoubleValue(p.value)
			dp.SetTimestamp(p.at)
		}
		body, err := pmetricotlp.NewExportRequestFromMetrics(md).MarshalProto()
		require.NoError(t, err)
		nonFinite, future := s.rejected(t, own, "non_finite"), s.rejected(t, own, "future_timestamp")

		req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, s.api+"/v1/metrics", bytes.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/x-protobuf")
		req.Header.Set("Authorization", "Bearer "+agent.token)
		httpResp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		raw, err := io.ReadAll(httpResp.Body)
		_ = httpResp.Body.Close()
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, httpResp.StatusCode, string(raw))
		export := pmetricotlp.NewExportResponse()
		require.NoError(t, export.UnmarshalProto(raw))
		assert.Equal(t, int64(2), export.PartialSuccess().RejectedDataPoints())
		assert.InDelta(t, nonFinite+1, s.rejected(t, own, "non_finite"), 0)
		assert.InDelta(t, future+1, s.rejected(t, own, "future_timestamp"), 0)

		code, metrics := s.apiGet(t, apitypes.Prefix+"/agents/"+uid.String()+"/metrics")
		require.Equal(t, http.StatusOK, code)
		require.True(t, json.Valid(metrics), "valid JSON, not an empty 200: %q", metrics)
		var env apitypes.Envelope[[]apitypes.Sample]
		require.NoError(t, json.Unmarshal(metrics, &env))
		require.Len(t, env.Data, 1)
		assert.Equal(t, "otelcol_process_memory_rss", env.Data[0].Name)
		assert.InDelta(t, 1.5e6, env.Data[0].Value, 0)
	})

	peak := s.peakMemory(t)
	t.Logf("server peak resident memory: %d MiB", peak>>20)
	assert.Less(t, peak, int64(maxServerMemory))
}
