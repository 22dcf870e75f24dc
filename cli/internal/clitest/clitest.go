// Package clitest runs phoenix commands in tests: with their output
// captured, and against the real REST API served in process over an
// embedded store, with real authentication. Nothing is mocked.
//
// Commands reach a Server through --server and --token flags rather than the
// environment, so the tests that use one can run in parallel.
package clitest

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/spf13/cobra"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/phoenix/platform/cli/cmdutil"
	"github.com/phoenix/platform/opamp-server/api"
	"github.com/phoenix/platform/opamp-server/apiclient"
	"github.com/phoenix/platform/opamp-server/assignment"
	"github.com/phoenix/platform/opamp-server/auth"
	"github.com/phoenix/platform/opamp-server/servermetrics"
	"github.com/phoenix/platform/opamp-server/store"
	"github.com/phoenix/platform/opamp-server/store/boltstore"
	"github.com/phoenix/platform/pipelines/catalog"
	"github.com/phoenix/platform/pipelines/distribution"
)

// Run executes the command tree newCmd builds with args, as the root
// command would (the test's context; errors returned, not printed), and
// returns what it wrote on stdout and stderr.
func Run(t *testing.T, newCmd func(*cmdutil.IOStreams) *cobra.Command, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	ios, out, errOut := cmdutil.Test()
	cmd := newCmd(ios)
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	cmd.SetOut(out)
	cmd.SetErr(errOut)
	cmd.SetArgs(args)
	err = cmd.ExecuteContext(t.Context())
	return out.String(), errOut.String(), err
}

// NewCmdFunc builds a command whose run function runF replaces when not nil,
// as every phoenix leaf command's constructor does.
type NewCmdFunc[O any] func(ios *cmdutil.IOStreams, runF func(context.Context, *O) error) *cobra.Command

// Real is the command newCmd builds with its own run function, for Run.
func Real[O any](newCmd NewCmdFunc[O]) func(*cmdutil.IOStreams) *cobra.Command {
	return func(ios *cmdutil.IOStreams) *cobra.Command { return newCmd(ios, nil) }
}

// Parse executes the command newCmd builds with args, with a run function
// that only keeps its options: what the arguments and flags make of them.
// The options are nil when the command failed before running.
func Parse[O any](t *testing.T, newCmd NewCmdFunc[O], args ...string) (*O, error) {
	t.Helper()
	var got *O
	_, _, err := Run(t, func(ios *cmdutil.IOStreams) *cobra.Command {
		return newCmd(ios, func(_ context.Context, opts *O) error { got = opts; return nil })
	}, args...)
	return got, err
}

// Server is the real REST API over a boltstore in the test's temporary
// directory, with the real pipelines catalog.
type Server struct {
	URL     string
	Store   store.Store
	Catalog *catalog.Catalog
	// Token is the bearer token of the server's one caller; empty when the
	// server runs without authentication.
	Token string
	// flags point a command at the server.
	flags []string
}

// principals name each role's caller, as the server records them (an
// assignment's default reason is "assigned by NAME").
var principals = map[auth.Role]string{auth.RoleViewer: "vera", auth.RoleOperator: "otto", auth.RoleAdmin: "ada"}

// NewServer serves the API with one token of the given role, or without
// authentication when role is empty. It stops when the test ends.
func NewServer(t *testing.T, role auth.Role) *Server {
	t.Helper()
	return newServer(t, role, nil, nil)
}

// newServer is NewServer with the settings extended (an experiment
// controller, say) and a hook that runs before the API answers each request.
func newServer(t *testing.T, role auth.Role, extend func(*api.Settings), before func(*http.Request)) *Server {
	t.Helper()
	st, err := boltstore.Open(filepath.Join(t.TempDir(), "phoenix.db"))
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, st.Close()) })
	cat, err := catalog.Load(distribution.ValidateYAML)
	require.NoError(t, err)
	s := &Server{Store: st, Catalog: cat}
	assign, err := assignment.New(assignment.Settings{Store: st, Catalog: cat, Validate: distribution.ValidateYAML})
	require.NoError(t, err)

	set := api.Settings{Store: st, Catalog: cat, Assignments: assign, Metrics: servermetrics.New()}
	if role != "" {
		name, ok := principals[role]
		require.True(t, ok, "no test caller for role %q", role)
		s.Token = string(role) + "-token-for-tests"
		set.Auth, err = auth.New([]auth.TokenEntry{{Name: name, TokenSHA256: auth.Digest(s.Token), Roles: []auth.Role{role}}})
		require.NoError(t, err)
		set.Auth = set.Auth.WithAgentCredentials(store.CredentialLookup(st))
	}
	if extend != nil {
		extend(&set)
	}
	a, err := api.New(set)
	require.NoError(t, err)
	mux := http.NewServeMux()
	a.Register(mux)
	var h http.Handler = mux
	if before != nil {
		h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			before(r)
			mux.ServeHTTP(w, r)
		})
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	s.URL = srv.URL

	s.flags = []string{"--server=" + srv.URL}
	if s.Token != "" {
		// --token beats every other source of a token.
		s.flags = append(s.flags, "--token="+s.Token)
	} else {
		// An explicit, empty token file: no token, and no look at the
		// home directory's admin.token. (A PHOENIX_TOKEN in the caller's
		// environment would still be sent; this server ignores it.)
		empty := filepath.Join(t.TempDir(), "no.token")
		require.NoError(t, os.WriteFile(empty, nil, 0o600))
		s.flags = append(s.flags, "--token-file="+empty)
	}
	return s
}

// Run runs a command group that talks to the API (agent, config, pipeline,
// experiment) against this server; args may override the server's flags.
func (s *Server) Run(t *testing.T, newCmd func(*cmdutil.IOStreams) *cobra.Command, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	return Run(t, newCmd, append(append([]string(nil), s.flags...), args...)...)
}

// Client is an API client of the server's caller.
func (s *Server) Client() *apiclient.Client { return apiclient.New(s.URL, s.Token) }

// Unreachable is the URL of a server that has stopped: calls to it fail.
func Unreachable(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(http.NotFoundHandler())
	srv.Close()
	return srv.URL
}

// WriteFile writes content to a file called name in a directory of its
// own, removed when the test ends, and returns the file's path.
func WriteFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(path, []byte(content), 0o600))
	return path
}

// CollectorConfig is a complete, valid collector configuration: the
// process scraper into the nop exporter.
const CollectorConfig = `receivers: {host_metrics: {scrapers: {process: {}}}}
exporters: {nop: {}}
service: {pipelines: {metrics: {receivers: [host_metrics], exporters: [nop]}}}
`
