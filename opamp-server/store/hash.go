package store // import "github.com/phoenix/platform/opamp-server/store"

import (
	"crypto/sha256"
	"encoding/hex"
)

// HashConfig returns the hex SHA-256 of a configuration body: an
// assignment's ConfigHash, the hash sent with a remote configuration and the
// one agents report back.
func HashConfig(body []byte) string {
	sum := sha256.Sum256(body)
	return hex.EncodeToString(sum[:])
}
