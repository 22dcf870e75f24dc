package controlplane

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func sha(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// writeTokens writes a tokens file with an admin token and an enrollment
// token, as replicas that share a database share it, and returns its path.
func writeTokens(t *testing.T, admin, enroll string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "tokens.yaml")
	require.NoError(t, os.WriteFile(path, fmt.Appendf(nil,
		"tokens:\n  - {name: admin, token_sha256: %s, roles: [admin]}\n  - {name: hosts, token_sha256: %s, roles: [enroll]}\n",
		sha(admin), sha(enroll)), 0o600))
	return path
}
