package cmdutil

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/phoenix/platform/cli/agentidentity"
)

// EnrollToken finds an enrollment token for server: the given file, else
// the environment (agentidentity.EnvEnrollToken), else, for a server on this
// host only, the local server's enroll.token. None found is "" and no
// error: a host with a stored identity may need none.
func EnrollToken(file, server string) (string, error) {
	if file != "" {
		raw, err := os.ReadFile(file)
		if err != nil {
			return "", fmt.Errorf("reading the enrollment token: %w", err)
		}
		return strings.TrimSpace(string(raw)), nil
	}
	if t := os.Getenv(agentidentity.EnvEnrollToken); t != "" {
		return t, nil
	}
	if !IsLocal(server) {
		return "", nil
	}
	raw, err := os.ReadFile(LocalDataFile("enroll.token"))
	if errors.Is(err, os.ErrNotExist) {
		return "", nil
	}
	return strings.TrimSpace(string(raw)), err
}
