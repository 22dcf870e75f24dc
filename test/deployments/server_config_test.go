package deployments_test

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/phoenix/platform/opamp-server/controlplane"
)

// decodeServerConfig reads a `phoenix server --config` file as the command
// does: the defaults, overlaid strictly (unknown keys are errors), then
// validated.
func decodeServerConfig(raw []byte) (controlplane.Config, error) {
	cfg := controlplane.DefaultConfig()
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil {
		return cfg, err
	}
	return cfg, cfg.Validate()
}

func loadServerConfig(tb testing.TB, raw []byte) controlplane.Config {
	tb.Helper()
	cfg, err := decodeServerConfig(raw)
	require.NoError(tb, err)
	return cfg
}

func TestServerConfigChecksCanFail(t *testing.T) {
	for _, bad := range []string{
		"opamp_listen: \":4320\"\nstorage: postgres://\n", // misspelt key
		"api_listen: 8080\n",                              // not host:port
		"public_url: phoenix:8080\n",                      // no scheme
	} {
		_, err := decodeServerConfig([]byte(bad))
		assert.Error(t, err, bad)
	}
}
