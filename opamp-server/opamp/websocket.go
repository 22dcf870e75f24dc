package opamp

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"github.com/open-telemetry/opamp-go/protobufs"
	"github.com/open-telemetry/opamp-go/server/types"
	"google.golang.org/protobuf/proto"
)

// The endpoint speaks OpAMP over WebSocket itself, and leaves only plain
// HTTP to opamp-go's server: a WebSocket is held for as long as its agent is
// connected, so what each one keeps decides the server's memory at fleet
// size, and opamp-go has no setting for any of it. Here a connection keeps
// a small read buffer, borrows its write buffer only while it writes, is
// bounded in what it reads (MaxRequestBytes) and in how long a write may
// block, and hands each message to a bounded set of handlers, so its own
// goroutine stays shallow while it waits (its stack is most of what an idle
// connection costs).
const (
	// wsReadBuffer is the buffer a connection reads frames through; longer
	// messages take several reads.
	wsReadBuffer = 1 << 10
	// wsWriteTimeout bounds one message's write: an agent that stops
	// reading is disconnected rather than holding up pushes.
	wsWriteTimeout = 10 * time.Second
	// wsHeader is the OpAMP WebSocket message header, a varint: zero.
	wsHeader = 0
)

// wsWriteBuffers lend connections their write buffers for one write each.
var wsWriteBuffers sync.Pool

var wsUpgrader = websocket.Upgrader{
	ReadBufferSize:  wsReadBuffer,
	WriteBufferPool: &wsWriteBuffers,
	// Compression stays off: the read limit must count what arrives.
}

// wsConnection is one agent's WebSocket, as opamp's callbacks see it.
type wsConnection struct {
	ws     *websocket.Conn
	mu     sync.Mutex // gorilla allows one writer at a time
	closed atomic.Bool
}

var _ types.Connection = (*wsConnection)(nil)

func (c *wsConnection) Connection() net.Conn { return c.ws.UnderlyingConn() }

// Send writes one message: the header, then the protobuf.
func (c *wsConnection) Send(ctx context.Context, msg *protobufs.ServerToAgent) error {
	data, err := proto.Marshal(msg)
	if err != nil {
		return fmt.Errorf("encoding the message: %w", err)
	}
	deadline := time.Now().Add(wsWriteTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.ws.SetWriteDeadline(deadline); err != nil {
		return err
	}
	w, err := c.ws.NextWriter(websocket.BinaryMessage)
	if err != nil {
		return err
	}
	var header [binary.MaxVarintLen64]byte
	if _, err := w.Write(header[:binary.PutUvarint(header[:], wsHeader)]); err != nil {
		_ = w.Close()
		return err
	}
	if _, err := w.Write(data); err != nil {
		_ = w.Close()
		return err
	}
	return w.Close()
}

// Disconnect closes the connection once; its reader then ends.
func (c *wsConnection) Disconnect() error {
	if !c.closed.CompareAndSwap(false, true) {
		return nil
	}
	return c.ws.Close()
}

// decodeWSMessage reads an agent's message: the header (a zero varint;
// agents older than the header send none) and the protobuf.
func decodeWSMessage(data []byte, msg *protobufs.AgentToServer) error {
	if len(data) > 0 && data[0] == 0 {
		header, n := binary.Uvarint(data)
		if n <= 0 || header != wsHeader {
			return errors.New("unexpected message header")
		}
		data = data[n:]
	}
	return proto.Unmarshal(data, msg)
}

// serveWebSocket accepts or refuses an agent's WebSocket as onConnecting
// decides, and serves it on a goroutine of its own: the HTTP handler
// returns, so its buffers go.
func (s *Server) serveWebSocket(w http.ResponseWriter, r *http.Request) {
	resp := s.onConnecting(r)
	if !resp.Accept {
		for k, v := range resp.HTTPResponseHeader {
			w.Header().Set(k, v)
		}
		status := resp.HTTPStatusCode
		if status == 0 {
			status = http.StatusForbidden
		}
		w.WriteHeader(status)
		return
	}
	ws, err := wsUpgrader.Upgrade(w, r, nil)
	if err != nil {
		s.set.Metrics.OpAMPErrors.WithLabelValues("handle").Inc()
		return // the upgrader has answered
	}
	ws.SetReadLimit(MaxRequestBytes)
	go s.readWebSocket(&wsConnection{ws: ws}, resp.ConnectionCallbacks)
}

// readWebSocket reads the agent's messages until the connection ends and
// answers each.
func (s *Server) readWebSocket(conn *wsConnection, cb types.ConnectionCallbacks) {
	ctx := context.Background() // outlives the upgrade request
	defer func() {
		cb.OnConnectionClose(conn)
		_ = conn.Disconnect()
	}()
	cb.OnConnected(ctx, conn)
	for {
		kind, data, err := conn.ws.ReadMessage()
		if err != nil {
			if !conn.closed.Load() && !websocket.IsCloseError(err, websocket.CloseNormalClosure, websocket.CloseGoingAway) {
				cb.OnReadMessageError(conn, kind, data, err)
			}
			return
		}
		var msg protobufs.AgentToServer
		if kind != websocket.BinaryMessage {
			err = fmt.Errorf("a %d message; OpAMP sends binary ones", kind)
		} else {
			err = decodeWSMessage(data, &msg)
		}
		if err != nil {
			cb.OnReadMessageError(conn, kind, data, err)
			continue
		}
		resp := s.handle(ctx, conn, &msg, cb.OnMessage)
		if resp == nil {
			continue
		}
		if len(resp.InstanceUid) == 0 {
			resp.InstanceUid = msg.InstanceUid
		}
		if err := conn.Send(ctx, resp); err != nil {
			cb.OnMessageResponseError(conn, resp, err)
			return
		}
	}
}

// maxHandlers bounds the WebSocket messages handled at once. It is far
// above what two cores keep busy (a handler mostly waits for the store),
// and keeps a fleet reconnecting at once from growing thousands of deep
// stacks together.
const maxHandlers = 256

// handle runs fn on a goroutine of its own, at most maxHandlers at a time,
// and waits for its answer: the deep work of a message (the store, logging,
// rendering offers) grows that goroutine's stack, which goes when it ends,
// instead of the stack of the reader, which lives as long as the agent is
// connected.
func (s *Server) handle(ctx context.Context, conn types.Connection, msg *protobufs.AgentToServer,
	fn func(context.Context, types.Connection, *protobufs.AgentToServer) *protobufs.ServerToAgent,
) *protobufs.ServerToAgent {
	s.handlers <- struct{}{}
	done := make(chan *protobufs.ServerToAgent, 1)
	go func() {
		defer func() { <-s.handlers }()
		done <- fn(ctx, conn, msg)
	}()
	return <-done
}
