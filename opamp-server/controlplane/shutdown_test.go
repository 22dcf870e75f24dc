package controlplane

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/gorilla/websocket"
	"github.com/open-telemetry/opamp-go/protobufs"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/phoenix/platform/opamp-server/apiclient"
	"github.com/phoenix/platform/opamp-server/apitypes"
	"github.com/phoenix/platform/opamp-server/store"
	"github.com/phoenix/platform/opamp-server/store/boltstore"
)

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// Stop drains every agent connection, marks the agents offline and closes
// the store only then: no agent finds the store closed on the way out.
func TestStopDrainsAgentsBeforeTheStoreCloses(t *testing.T) {
	cfg := testConfig(t)
	logs := &syncBuffer{}
	s, err := New(t.Context(), cfg, slog.New(slog.NewTextHandler(logs, nil)))
	require.NoError(t, err)
	require.NoError(t, s.Start(context.WithoutCancel(t.Context())))
	enroller := apiclient.New(s.APIURL(), readToken(t, s.Tokens().EnrollToken))

	const agents = 20
	var uids []string
	for range agents {
		cred, err := enroller.Enroll(t.Context(), apitypes.EnrollRequest{})
		require.NoError(t, err)
		conn, resp, err := websocket.DefaultDialer.DialContext(t.Context(), s.OpAMPURL(),
			http.Header{"Authorization": {"Bearer " + cred.Token}})
		require.NoError(t, err)
		_ = resp.Body.Close()
		t.Cleanup(func() { _ = conn.Close() })
		uid := uuid.MustParse(cred.InstanceUID)
		raw, err := proto.Marshal(&protobufs.AgentToServer{InstanceUid: uid[:], AgentDescription: &protobufs.AgentDescription{
			IdentifyingAttributes: []*protobufs.KeyValue{kv("service.name", "phoenix-collector")}}})
		require.NoError(t, err)
		require.NoError(t, conn.WriteMessage(websocket.BinaryMessage, append([]byte{0}, raw...)))
		require.NoError(t, conn.SetReadDeadline(time.Now().Add(10*time.Second)))
		_, _, err = conn.ReadMessage()
		require.NoError(t, err)
		uids = append(uids, cred.InstanceUID)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, s.Stop(ctx))
	for _, bad := range []string{"store closed", "closed pool", "inventory unavailable", "level=ERROR"} {
		assert.NotContains(t, logs.String(), bad)
	}
	assert.Equal(t, agents, strings.Count(logs.String(), "agent disconnected"))

	st, err := boltstore.Open(filepath.Join(cfg.DataDir, "phoenix.db"))
	require.NoError(t, err)
	defer st.Close()
	for _, uid := range uids {
		a, err := st.GetAgent(t.Context(), uid)
		require.NoError(t, err)
		assert.False(t, a.Online, "%s is offline once the replica stops", uid)
	}
	online := true
	left, _, err := st.ListAgents(t.Context(), store.AgentFilter{Online: &online}, store.Page{})
	require.NoError(t, err)
	assert.Empty(t, left)
}
