package fleetsim

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func validOptions() Options {
	return Options{Count: 10, Server: "http://127.0.0.1:8080", EnrollToken: "t"}
}

func TestValidateRefusesBadInput(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		change func(*Options)
		want   string
	}{
		{"no agents", func(o *Options) { o.Count = 0 }, "count must be at least 1, got 0"},
		{"negative count", func(o *Options) { o.Count = -3 }, "count must be at least 1, got -3"},
		{"too many agents", func(o *Options) { o.Count = MaxAgents + 1 }, "count must be at most 100000"},
		{"no server", func(o *Options) { o.Server = "" }, `server "": a URL is required`},
		{"server without scheme", func(o *Options) { o.Server = "127.0.0.1:8080" }, `server "127.0.0.1:8080"`},
		{"server with a WebSocket scheme", func(o *Options) { o.Server = "ws://127.0.0.1:8080" }, "the scheme must be http, https"},
		{"server without host", func(o *Options) { o.Server = "http://" }, "no host"},
		{"server with a bad port", func(o *Options) { o.Server = "http://127.0.0.1:99999" }, `bad port "99999"`},
		{"opamp with another scheme", func(o *Options) { o.OpAMP = "ftp://h/v1/opamp" }, `opamp "ftp://h/v1/opamp": the scheme must be ws, wss, http, https`},
		{"unknown transport", func(o *Options) { o.Transport = "grpc" }, `transport must be "ws" or "http", got "grpc"`},
		{"share below 0", func(o *Options) { o.FailShare = -0.1 }, "fail-share must be within [0, 1], got -0.1"},
		{"share above 1", func(o *Options) { o.FailShare = 1.5 }, "fail-share must be within [0, 1], got 1.5"},
		{"share not a number", func(o *Options) { o.FailShare = math.NaN() }, "fail-share must be within [0, 1], got NaN"},
		{"candidate share below 0", func(o *Options) { o.CandidateShare = -0.5 }, "candidate-share must be within (0, 1]"},
		{"candidate share above 1", func(o *Options) { o.CandidateShare = 1.2 }, "candidate-share must be within (0, 1] (0 takes the default, 0.15), got 1.2"},
		{"negative rate", func(o *Options) { o.Rate = -1 }, "rate must be a positive number"},
		{"negative apply delay", func(o *Options) { o.ApplyDelay = -time.Second }, "apply-delay must not be negative"},
		{"negative telemetry interval", func(o *Options) { o.TelemetryInterval = -time.Second }, "telemetry-interval must not be negative"},
		{"tiny telemetry interval", func(o *Options) { o.TelemetryInterval = time.Millisecond }, "telemetry-interval must be at least 100ms"},
		{"tiny heartbeat", func(o *Options) { o.Heartbeat = time.Millisecond }, "heartbeat must be at least 100ms"},
		{"bad fleet name", func(o *Options) { o.Fleet = "a b" }, `fleet "a b": must be 1 to 63`},
		{"bad host prefix", func(o *Options) { o.HostPrefix = "web/1" }, `host-prefix "web/1"`},
		{"reserved label", func(o *Options) { o.Labels = map[string]string{"host.name": "x"} }, `label "host.name": set by the simulator itself`},
		{"bad label name", func(o *Options) { o.Labels = map[string]string{"a b": "x"} }, `label "a b": a name is`},
		{"unselectable label value", func(o *Options) { o.Labels = map[string]string{"env": "a,b"} }, `label env="a,b": a value is at most 1024`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			o := validOptions()
			tt.change(&o)
			err := o.Validate()
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

func TestValidateAcceptsTheDefaults(t *testing.T) {
	t.Parallel()
	require.NoError(t, validOptions().Validate())
	o := validOptions()
	o.Count, o.FailShare, o.Transport, o.OpAMP = MaxAgents, 1, HTTP, "https://phoenix.example.com:4320/v1/opamp"
	o.Labels = map[string]string{"env": "bench", "team/owner": "platform"}
	require.NoError(t, o.Validate())
}

func TestValidateReportsEveryProblem(t *testing.T) {
	t.Parallel()
	err := Options{Count: 0, Server: "nope", FailShare: 2}.Validate()
	require.Error(t, err)
	assert.Len(t, strings.Split(err.Error(), "\n"), 3, "%v", err)
}

func TestOpAMPURLFollowsTheTransport(t *testing.T) {
	t.Parallel()
	tests := []struct {
		server, opamp string
		transport     Transport
		want          string
	}{
		{"http://127.0.0.1:8080", "", WebSocket, "ws://127.0.0.1:4320/v1/opamp"},
		{"http://127.0.0.1:8080", "", HTTP, "http://127.0.0.1:4320/v1/opamp"},
		{"https://phoenix.example.com", "", WebSocket, "wss://phoenix.example.com:4320/v1/opamp"},
		{"https://phoenix.example.com", "", HTTP, "https://phoenix.example.com:4320/v1/opamp"},
		{"http://[::1]:8080", "", WebSocket, "ws://[::1]:4320/v1/opamp"},
		{"http://a", "http://b:9/v1/opamp", WebSocket, "ws://b:9/v1/opamp"},
		{"http://a", "wss://b:9/x", HTTP, "https://b:9/x"},
		{"http://a", "ws://b:9/x", HTTP, "http://b:9/x"},
		{"http://a", "wss://b:9/x", WebSocket, "wss://b:9/x"},
	}
	for _, tt := range tests {
		got, err := opampURL(tt.server, tt.opamp, tt.transport)
		require.NoError(t, err)
		assert.Equal(t, tt.want, got, "%+v", tt)
	}
}

func TestDefaults(t *testing.T) {
	t.Parallel()
	o := Options{Count: 1, Server: "http://127.0.0.1:8080/"}.withDefaults()
	assert.Equal(t, WebSocket, o.Transport)
	assert.Equal(t, DefaultFleet, o.Fleet)
	assert.Equal(t, DefaultFleet, o.HostPrefix)
	assert.Equal(t, "http://127.0.0.1:8080", o.Server)
	assert.Equal(t, "ws://127.0.0.1:4320/v1/opamp", o.OpAMP)
	assert.InDelta(t, DefaultRate, o.Rate, 0)
	assert.Equal(t, DefaultHeartbeat, o.Heartbeat)
	assert.Equal(t, DefaultEnrollConcurrency, o.EnrollConcurrency)
	assert.Equal(t, DefaultTelemetryConcurrency, o.TelemetryConcurrency)
	assert.Zero(t, o.TelemetryInterval, "own telemetry stays off unless asked for")
	assert.InDelta(t, DefaultCandidateShare, o.CandidateShare, 0)
}

func TestFailingAgentsAreExactAndSpread(t *testing.T) {
	t.Parallel()
	count := func(n int, share float64) (k int, at []int) {
		for i := range n {
			if failsAt(i, share) {
				k++
				at = append(at, i)
			}
		}
		return k, at
	}
	k, at := count(50, 0.2)
	assert.Equal(t, 10, k)
	assert.Equal(t, []int{4, 9, 14, 19, 24, 29, 34, 39, 44, 49}, at)
	for _, share := range []float64{0, 0.01, 0.1, 0.25, 1.0 / 3, 0.5, 0.9, 1} {
		for _, n := range []int{1, 7, 100, 10_000} {
			k, _ := count(n, share)
			assert.InDelta(t, float64(n)*share, float64(k), 1, "n=%d share=%v", n, share)
		}
	}
	k, _ = count(1000, 0)
	assert.Zero(t, k)
	k, _ = count(1000, 1)
	assert.Equal(t, 1000, k)
}

func TestSpreadStaysInTheUnitInterval(t *testing.T) {
	t.Parallel()
	buckets := make([]int, 10)
	for i := range 10_000 {
		x := spread(i)
		require.GreaterOrEqual(t, x, 0.0)
		require.Less(t, x, 1.0)
		buckets[int(x*10)]++
	}
	for b, n := range buckets {
		assert.InDelta(t, 1000, n, 20, "bucket %d", b) // evenly spread, not random
	}
}

func TestQuantile(t *testing.T) {
	t.Parallel()
	d := make([]time.Duration, 100)
	for i := range d {
		d[i] = time.Duration(i+1) * time.Millisecond
	}
	assert.Equal(t, 50*time.Millisecond, quantile(d, 0.5))
	assert.Equal(t, 99*time.Millisecond, quantile(d, 0.99))
	assert.Equal(t, 100*time.Millisecond, quantile(d, 1))
	assert.Equal(t, time.Millisecond, quantile(d[:1], 0.99))
	assert.Zero(t, quantile(nil, 0.5))
}

func TestStatusCode(t *testing.T) {
	t.Parallel()
	assert.Equal(t, "401", statusCode("401 Unauthorized"))
	assert.Equal(t, "503", statusCode("503"))
	assert.Equal(t, "?", statusCode("teapot"))
}

func TestIdentitiesFile(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "ids.jsonl")
	ids, err := loadIdentities(path, "http://a")
	require.NoError(t, err)
	require.NoError(t, ids.add(Identity{Index: 0, InstanceUID: "0190e0c4-8f1a-7c3e-9d2b-5a4f3e2d1c0b", Token: "t0", Server: "http://a"}))
	require.NoError(t, ids.add(Identity{Index: 2, InstanceUID: "0190e0c4-8f1a-7c3e-9d2b-5a4f3e2d1c0c", Token: "t2", Server: "http://a"}))
	require.NoError(t, ids.close())
	st, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), st.Mode().Perm(), "tokens in clear: owner only")

	again, err := loadIdentities(path, "http://a")
	require.NoError(t, err)
	defer again.close()
	assert.Equal(t, 2, again.known(3))
	assert.Equal(t, 1, again.known(1))
	id, ok := again.get(2)
	require.True(t, ok)
	assert.Equal(t, "t2", id.Token)
	_, ok = again.get(1)
	assert.False(t, ok)

	_, err = loadIdentities(path, "http://b")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "line 1: enrolled with http://a, not http://b")

	bad := filepath.Join(t.TempDir(), "bad.jsonl")
	require.NoError(t, os.WriteFile(bad, []byte("\n{\"index\":0,\"instance_uid\":\"x\",\"token\":\"t\",\"server\":\"http://a\"}\n"), 0o600))
	_, err = loadIdentities(bad, "http://a")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "line 2: not an identity")
	require.NoError(t, os.WriteFile(bad, []byte("{"), 0o600))
	_, err = loadIdentities(bad, "http://a")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "line 1:")

	mem, err := loadIdentities("", "http://a")
	require.NoError(t, err)
	require.NoError(t, mem.add(Identity{Index: 0}))
	require.NoError(t, mem.close())
}

func TestStartRefusesWithoutAWayToEnroll(t *testing.T) {
	t.Parallel()
	o := validOptions()
	o.EnrollToken = ""
	_, err := Start(t.Context(), o)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "an enrollment token is needed: 10 of the 10 agents have no identity yet")

	o = validOptions()
	o.Count = 0
	_, err = Start(t.Context(), o)
	require.ErrorContains(t, err, "count must be at least 1")
}

func TestOwnMetrics(t *testing.T) {
	t.Parallel()
	f := &Fleet{o: Options{ServiceVersion: "1.2.3"}}
	a := &agent{f: f, index: 3, id: Identity{InstanceUID: "0190e0c4-8f1a-7c3e-9d2b-5a4f3e2d1c0b"}}
	start := time.Unix(1_700_000_000, 0)
	md := a.ownMetrics(start, start.Add(100*time.Second), nil)
	require.Equal(t, 1, md.ResourceMetrics().Len())
	rm := md.ResourceMetrics().At(0)
	uid, _ := rm.Resource().Attributes().Get("service.instance.id")
	assert.Equal(t, a.id.InstanceUID, uid.Str())
	values := map[string]float64{}
	ms := rm.ScopeMetrics().At(0).Metrics()
	for i := range ms.Len() {
		m := ms.At(i)
		assert.True(t, strings.HasPrefix(m.Name(), "otelcol_process_"), m.Name())
		if m.Name() == MetricMemoryRSS {
			values[m.Name()] = float64(m.Gauge().DataPoints().At(0).IntValue())
		} else if m.Name() == MetricUptime || m.Name() == MetricCPUSeconds {
			values[m.Name()] = m.Sum().DataPoints().At(0).DoubleValue()
		}
	}
	assert.InDelta(t, 100, values[MetricUptime], 1e-9)
	assert.Greater(t, values[MetricCPUSeconds], 0.5)
	assert.Less(t, values[MetricCPUSeconds], 5.0)
	assert.GreaterOrEqual(t, values[MetricMemoryRSS], float64(64<<20))
	assert.Less(t, values[MetricMemoryRSS], float64(150<<20))
}
