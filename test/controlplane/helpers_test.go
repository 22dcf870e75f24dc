package controlplane

import (
	"crypto/sha256"
	"encoding/hex"
)

func sha(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}
