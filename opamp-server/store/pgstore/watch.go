package pgstore

import (
	"context"
	"encoding/json"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/phoenix/platform/opamp-server/store"
	"github.com/phoenix/platform/opamp-server/store/internal/watchhub"
)

const (
	// listenAppName names the LISTEN connection in pg_stat_activity.
	listenAppName = "phoenix-store-watch"
	// idleCheck is how long the connection may stay silent before a ping
	// checks it, so a half-open TCP connection is noticed.
	idleCheck   = 30 * time.Second
	pingTimeout = 10 * time.Second
	minBackoff  = 100 * time.Millisecond
	maxBackoff  = 10 * time.Second
)

// listener holds one dedicated connection (outside the pool) that LISTENs
// for changes and fans them out to the store's watchers.
type listener struct {
	cfg *pgx.ConnConfig
	hub *watchhub.Hub
	log *slog.Logger

	mu      sync.Mutex
	started bool
	stopped bool // by Close: never start again
	cancel  context.CancelFunc
	done    chan struct{}
}

func newListener(poolConn *pgx.ConnConfig, hub *watchhub.Hub, log *slog.Logger) *listener {
	cfg := poolConn.Copy()
	cfg.RuntimeParams["application_name"] = listenAppName
	return &listener{cfg: cfg, hub: hub, log: log}
}

// start connects on first use, synchronously, so the first Watch reports a
// connection failure and every change committed after it returns is
// delivered.
func (l *listener) start(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.stopped {
		return store.ErrClosed
	}
	if l.started {
		return nil
	}
	conn, err := l.connect(ctx)
	if err != nil {
		return err
	}
	runCtx, cancel := context.WithCancel(context.Background())
	l.started, l.cancel, l.done = true, cancel, make(chan struct{})
	go l.run(runCtx, conn)
	return nil
}

// stop ends the listener for good and waits for its connection to close.
func (l *listener) stop() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.stopped = true
	if l.started {
		l.cancel()
		<-l.done
	}
}

func (l *listener) connect(ctx context.Context) (*pgx.Conn, error) {
	conn, err := pgx.ConnectConfig(ctx, l.cfg)
	if err != nil {
		return nil, err
	}
	if _, err := conn.Exec(ctx, "LISTEN "+notifyChannel); err != nil {
		closeConn(conn)
		return nil, err
	}
	return conn, nil
}

// run receives until ctx ends, reconnecting with jittered exponential
// backoff. Changes committed while disconnected are lost, so every
// reconnection is announced with a resync.
func (l *listener) run(ctx context.Context, conn *pgx.Conn) {
	defer close(l.done)
	for {
		err := l.receive(ctx, conn)
		closeConn(conn)
		if ctx.Err() != nil {
			return
		}
		l.log.Warn("store change notifications interrupted; reconnecting", slog.Any("error", err))
		if conn = l.reconnect(ctx); conn == nil {
			return
		}
		l.log.Info("store change notifications restored; watchers resync")
		l.hub.Resync()
	}
}

// reconnect retries until it connects (nil when ctx ends first).
func (l *listener) reconnect(ctx context.Context) *pgx.Conn {
	for backoff := minBackoff; ; backoff = min(2*backoff, maxBackoff) {
		jittered := backoff/2 + rand.N(backoff) // uniform in [½, 1½)×backoff
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(jittered):
		}
		conn, err := l.connect(ctx)
		if err == nil {
			return conn
		}
		if ctx.Err() != nil {
			return nil
		}
		l.log.Warn("store change notifications: reconnect failed", slog.Any("error", err), slog.Duration("retry_in", backoff))
	}
}

// receive publishes notifications until the connection fails or ctx ends.
func (l *listener) receive(ctx context.Context, conn *pgx.Conn) error {
	for {
		waitCtx, cancel := context.WithTimeout(ctx, idleCheck)
		n, err := conn.WaitForNotification(waitCtx)
		cancel()
		switch {
		case err == nil:
			var c store.Change
			if json.Unmarshal([]byte(n.Payload), &c) == nil && c.Kind != "" {
				l.hub.Publish(c)
			}
		case ctx.Err() != nil:
			return ctx.Err()
		case pgconn.Timeout(err) && !conn.IsClosed():
			// Silent for idleCheck: make sure the server is still there.
			pingCtx, cancel := context.WithTimeout(ctx, pingTimeout)
			err := conn.Ping(pingCtx)
			cancel()
			if err != nil {
				return err
			}
		default:
			return err
		}
	}
}

func closeConn(conn *pgx.Conn) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = conn.Close(ctx)
}
