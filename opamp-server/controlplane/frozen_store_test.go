package controlplane

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/phoenix/platform/opamp-server/apitypes"
	"github.com/phoenix/platform/test/pgtest"
)

// TestAFrozenStoreIsA503 replays a PostgreSQL that stops answering: API
// requests used to hang for as long as it stayed frozen. Now they answer
// 503 within the store timeout, and the server recovers when it thaws.
func TestAFrozenStoreIsA503(t *testing.T) {
	dsn, freeze, thaw := pgtest.StartFreezable(t)
	cfg := testConfig(t)
	cfg.Store, cfg.StoreTimeout = dsn, time.Second
	s := startServer(t, cfg)
	admin := readToken(t, s.Tokens().AdminToken)
	c := newClient(t)
	agents := s.APIURL() + apitypes.Prefix + "/agents"

	status, _, body := c.do(http.MethodGet, agents, admin, "", nil)
	assert.Equal(t, http.StatusOK, status, "%s", body)

	freeze()
	start := time.Now()
	status, _, body = c.do(http.MethodGet, agents, admin, "", nil)
	assert.Equal(t, http.StatusServiceUnavailable, status, "%s", body)
	assert.Less(t, time.Since(start), 5*time.Second, "answered within the store timeout, not when PostgreSQL came back")
	assert.Contains(t, string(body), string(apitypes.CodeUnavailable))
	status, _, _ = c.do(http.MethodGet, s.APIURL()+"/readyz", "", "", nil)
	assert.Equal(t, http.StatusServiceUnavailable, status, "not ready while the store does not answer")

	thaw()
	assert.Eventually(t, func() bool {
		status, _, _ := c.do(http.MethodGet, agents, admin, "", nil)
		return status == http.StatusOK
	}, 20*time.Second, 200*time.Millisecond, "the server recovers when the store answers again")
}
