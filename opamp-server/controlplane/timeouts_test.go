package controlplane

import (
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestUpgradedConnectionsOutliveRequestDeadlines: a WebSocket agent keeps
// its connection past the listener's request deadlines, because net/http
// clears them when the connection is hijacked for the upgrade.
func TestUpgradedConnectionsOutliveRequestDeadlines(t *testing.T) {
	const deadline = 200 * time.Millisecond
	got := make(chan error, 2)
	h := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		conn, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			got <- err
			return
		}
		defer conn.Close()
		// Wait past the request deadlines, then send the agent something.
		// (net/http clears the read deadline of a hijacked connection
		// itself; the write deadline is what would cut a WebSocket.)
		time.Sleep(3 * deadline)
		_, err = conn.Write([]byte("pushed configuration\n"))
		got <- err
	})
	srv := &http.Server{Handler: h, ReadTimeout: deadline, WriteTimeout: deadline, ReadHeaderTimeout: deadline}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })

	send := func(upgrade bool) error {
		conn, err := net.Dial("tcp", ln.Addr().String())
		require.NoError(t, err)
		defer conn.Close()
		req := "GET /v1/opamp HTTP/1.1\r\nHost: x\r\n"
		if upgrade {
			req += "Connection: Upgrade\r\nUpgrade: websocket\r\n"
		}
		_, err = conn.Write([]byte(req + "\r\n"))
		require.NoError(t, err)
		select {
		case err := <-got:
			return err
		case <-time.After(10 * time.Second):
			t.Fatal("the handler never returned")
			return nil
		}
	}
	assert.NoError(t, send(true), "an upgraded connection has no request deadline")
}

func TestListenerTimeouts(t *testing.T) {
	s := newHTTPServer(http.NotFoundHandler(), reportTimeout)
	assert.Equal(t, readHeaderTimeout, s.ReadHeaderTimeout)
	assert.Equal(t, requestTimeout, s.ReadTimeout)
	assert.Equal(t, reportTimeout, s.WriteTimeout)
	assert.Equal(t, idleTimeout, s.IdleTimeout)
}
