package cmdutil // import "github.com/phoenix/platform/cli/cmdutil"

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/phoenix/platform/opamp-server/apiclient"
)

// Environment variables the client flags fall back to.
const (
	EnvServer    = "PHOENIX_SERVER"
	EnvToken     = "PHOENIX_TOKEN"
	EnvTokenFile = "PHOENIX_TOKEN_FILE"
)

// DefaultServer is where a local `phoenix server` listens.
const DefaultServer = "http://127.0.0.1:8080"

// ClientOptions say which server to talk to and how to authenticate.
type ClientOptions struct {
	Server    string
	Token     string
	TokenFile string
}

// AddClientFlags registers --server, --token and --token-file as persistent
// flags of a command group.
func AddClientFlags(cmd *cobra.Command, o *ClientOptions) {
	f := cmd.PersistentFlags()
	f.StringVar(&o.Server, "server", "", "server API URL (env "+EnvServer+", default "+DefaultServer+")")
	f.StringVar(&o.Token, "token", "", "bearer token (env "+EnvToken+"); prefer --token-file")
	f.StringVar(&o.TokenFile, "token-file", "", "file holding the bearer token (env "+EnvTokenFile+
		", default: a local server's admin.token when present)")
}

// Client builds an API client from flags, then environment, then defaults.
func (o *ClientOptions) Client() (*apiclient.Client, error) {
	server := o.ServerURL()
	token, err := o.token(server)
	if err != nil {
		return nil, err
	}
	return apiclient.New(server, token), nil
}

// token is the bearer token for server: the one given, or else the local
// server's admin token, but only for a server on this host. The admin
// token is never sent to a --server the user merely typed.
func (o *ClientOptions) token(server string) (string, error) {
	if t := firstNonEmpty(o.Token, os.Getenv(EnvToken)); t != "" {
		return t, nil
	}
	file := firstNonEmpty(o.TokenFile, os.Getenv(EnvTokenFile))
	explicit := file != ""
	if !explicit {
		if !isLocal(server) {
			return "", nil // no token: the server says 401 if it needs one
		}
		file = LocalDataFile("admin.token")
	}
	raw, err := os.ReadFile(file)
	switch {
	case err == nil:
		return strings.TrimSpace(string(raw)), nil
	case explicit:
		return "", fmt.Errorf("reading token file: %w", err)
	case errors.Is(err, os.ErrNotExist):
		return "", nil // no token: the server says 401 if it needs one
	default:
		return "", err
	}
}

// LocalDataFile is the path of a file in a local `phoenix server`'s default
// data directory, "" when the home directory is unknown.
func LocalDataFile(name string) string {
	home, err := os.UserHomeDir()
	if err != nil {
		return ""
	}
	return filepath.Join(home, ".local", "share", "phoenix", name)
}

// IsLocal reports whether a server URL names this host: only such a server
// is sent a token found in the local data directory.
func IsLocal(server string) bool { return isLocal(server) }

// ServerURL is the API URL the options name: the flag, the environment,
// then the default.
func (o *ClientOptions) ServerURL() string {
	return firstNonEmpty(o.Server, os.Getenv(EnvServer), DefaultServer)
}

func firstNonEmpty(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}

// isLocal reports whether a server URL names this host.
func isLocal(server string) bool {
	u, err := url.Parse(server)
	if err != nil {
		return false
	}
	host := u.Hostname()
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
