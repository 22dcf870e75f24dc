package fleetsim

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/phoenix/platform/opamp-server/apiclient"
	"github.com/phoenix/platform/opamp-server/apitypes"
)

// Identity is one simulated agent's enrolled identity: the instance UID the
// server chose and the credential bound to it.
type Identity struct {
	// Index is the agent's place in the fleet, 0 to Count-1.
	Index int `json:"index"`
	// InstanceUID is the agent's instance UID (a UUID).
	InstanceUID string `json:"instance_uid"`
	// Token is the agent's credential.
	Token string `json:"token"`
	// Server is the API URL that issued it: a credential works with that
	// server (and its replicas) only.
	Server string `json:"server"`
	// OwnMetrics is the last own-telemetry destination the server offered
	// the agent. The supervisor keeps it across restarts
	// (last_recv_own_telemetry_config), and so must a simulated agent: a
	// server offers it once per connection of its replica's lifetime, not
	// again to an agent that reconnects.
	OwnMetrics *OwnMetrics `json:"own_metrics,omitempty"`
}

// OwnMetrics is an own-telemetry destination: the OTLP/HTTP metrics URL
// and the headers to send (the agent's own credential).
type OwnMetrics struct {
	Endpoint string            `json:"endpoint"`
	Headers  map[string]string `json:"headers,omitempty"`
}

func (m *OwnMetrics) equal(o *OwnMetrics) bool {
	return m != nil && o != nil && m.Endpoint == o.Endpoint && maps.Equal(m.Headers, o.Headers)
}

// ErrEnrollTokenNeeded is returned (wrapped) by Start when agents have no
// identity and there is no enrollment token to get them one.
var ErrEnrollTokenNeeded = errors.New("an enrollment token is needed")

// ErrEnrollRefused is returned (wrapped) when the server refuses the
// enrollment token: no agent without an identity can join.
var ErrEnrollRefused = errors.New("the server refused the enrollment token")

// identities holds the fleet's identities and, with a file, appends every
// new one to it.
type identities struct {
	server string

	mu   sync.Mutex
	byIx map[int]Identity
	file *os.File // nil: in memory only
	path string
}

// loadIdentities reads path (when not empty and present) and opens it for
// appending. Identities of another server are an error: their tokens
// would all be refused.
func loadIdentities(path, server string) (*identities, error) {
	ids := &identities{server: server, byIx: map[int]Identity{}, path: path}
	if path == "" {
		return ids, nil
	}
	if err := ids.read(); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("identities: %w", err)
	}
	ids.file = f
	return ids, nil
}

func (ids *identities) read() error {
	f, err := os.Open(ids.path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("identities: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 4096), 64<<10)
	for line := 1; sc.Scan(); line++ {
		if len(sc.Bytes()) == 0 {
			continue
		}
		var id Identity
		if err := json.Unmarshal(sc.Bytes(), &id); err != nil {
			return fmt.Errorf("identities %s, line %d: %w", ids.path, line, err)
		}
		if _, err := uuid.Parse(id.InstanceUID); err != nil || id.Token == "" || id.Index < 0 {
			return fmt.Errorf("identities %s, line %d: not an identity (index, a UUID instance_uid and a token)", ids.path, line)
		}
		if id.Server != ids.server {
			return fmt.Errorf("identities %s, line %d: enrolled with %s, not %s; their credentials work only there: use another file",
				ids.path, line, id.Server, ids.server)
		}
		ids.byIx[id.Index] = id // a later line wins
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("identities %s: %w", ids.path, err)
	}
	return nil
}

// get returns agent i's identity, if known.
func (ids *identities) get(i int) (Identity, bool) {
	ids.mu.Lock()
	defer ids.mu.Unlock()
	id, ok := ids.byIx[i]
	return id, ok
}

// known counts the identities for agents 0 to n-1.
func (ids *identities) known(n int) int {
	ids.mu.Lock()
	defer ids.mu.Unlock()
	k := 0
	for i := range ids.byIx {
		if i < n {
			k++
		}
	}
	return k
}

// add keeps a new or changed identity, and appends it to the file (where
// a later line for an agent replaces the earlier ones).
func (ids *identities) add(id Identity) error {
	ids.mu.Lock()
	defer ids.mu.Unlock()
	ids.byIx[id.Index] = id
	if ids.file == nil {
		return nil
	}
	line, err := json.Marshal(id)
	if err != nil {
		return err
	}
	if _, err := ids.file.Write(append(line, '\n')); err != nil {
		return fmt.Errorf("identities %s: %w", ids.path, err)
	}
	return nil
}

func (ids *identities) close() error {
	ids.mu.Lock()
	defer ids.mu.Unlock()
	if ids.file == nil {
		return nil
	}
	err := ids.file.Close()
	ids.file = nil
	return err
}

// enrollAttempts bounds the tries of one enrollment the server could not
// answer (unreachable, 429, 5xx).
const enrollAttempts = 5

// enroll obtains a new identity for agent i, retrying what may pass. A
// refusal of the token wraps ErrEnrollRefused.
func enroll(ctx context.Context, c *apiclient.Client, server string, i int, host string) (Identity, error) {
	backoff := 250 * time.Millisecond
	for attempt := 1; ; attempt++ {
		cred, err := c.Enroll(ctx, apitypes.EnrollRequest{HostName: host})
		if err == nil {
			if _, perr := uuid.Parse(cred.InstanceUID); perr != nil || cred.Token == "" {
				return Identity{}, fmt.Errorf("enrolling %s: the server answered without a UUID and a token", host)
			}
			return Identity{Index: i, InstanceUID: cred.InstanceUID, Token: cred.Token, Server: server}, nil
		}
		if apiclient.IsStatus(err, http.StatusUnauthorized) || apiclient.IsStatus(err, http.StatusForbidden) {
			return Identity{}, fmt.Errorf("%w: %w", ErrEnrollRefused, err)
		}
		var apiErr *apiclient.Error
		retryable := !errors.As(err, &apiErr) || apiErr.Status == http.StatusTooManyRequests || apiErr.Status >= 500
		if !retryable || attempt == enrollAttempts || ctx.Err() != nil {
			return Identity{}, fmt.Errorf("enrolling %s: %w", host, err)
		}
		select {
		case <-ctx.Done():
			return Identity{}, ctx.Err()
		case <-time.After(backoff):
		}
		backoff *= 2
	}
}
