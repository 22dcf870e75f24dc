package pgtest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

const (
	initTimeout  = 2 * time.Minute
	startTimeout = time.Minute
	stopTimeout  = 15 * time.Second
	// startAttempts retries a start whose port another process took between
	// choosing it and the server binding it.
	startAttempts = 3
)

// cluster is one running PostgreSQL server and its data directory.
type cluster struct {
	dir     string // removed on stop
	logPath string
	port    int
	cmd     *exec.Cmd
	exited  chan struct{} // closed when the postmaster exits
	dbs     atomic.Int64  // databases created, for unique names
}

// startCluster initdbs a data directory under the system temp directory
// and starts a server on a free 127.0.0.1 port; serverArgs are added to
// the postgres command line.
func startCluster(serverArgs ...string) (*cluster, error) {
	bindir, err := findBinDir()
	if err != nil {
		return nil, err
	}
	cred, err := serverCredential()
	if err != nil {
		return nil, err
	}
	// Not tb.TempDir: its ancestors are private to the test's user, and the
	// unprivileged server must reach the directory; a short path also keeps
	// the unix socket under its 107-byte limit.
	dir, err := os.MkdirTemp("", "pgtest-")
	if err != nil {
		return nil, err
	}
	c := &cluster{dir: dir, logPath: filepath.Join(dir, "server.log")}
	if err := c.init(bindir, cred); err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	for attempt := 1; ; attempt++ {
		err := c.start(bindir, cred, serverArgs)
		if err == nil {
			return c, nil
		}
		if attempt == startAttempts || !strings.Contains(c.log(), "could not bind") {
			_ = os.RemoveAll(dir)
			return nil, err
		}
	}
}

func (c *cluster) dataDir() string { return filepath.Join(c.dir, "data") }

func (c *cluster) init(bindir string, cred *syscall.Credential) error {
	if cred != nil {
		if err := os.Chown(c.dir, int(cred.Uid), int(cred.Gid)); err != nil {
			return fmt.Errorf("pgtest: hand %s to uid %d: %w", c.dir, cred.Uid, err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), initTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(bindir, "initdb"),
		"--pgdata", c.dataDir(), "--username", "postgres", "--auth", "trust",
		"--encoding", "UTF8", "--locale", "C", "--no-sync", "--no-instructions")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("pgtest: initdb: %w\n%s", err, out)
	}
	return nil
}

// start runs the postmaster as a child of the test process, so it dies with
// the test binary even when the binary is killed before its cleanups run.
func (c *cluster) start(bindir string, cred *syscall.Credential, serverArgs []string) error {
	port, err := freePort()
	if err != nil {
		return err
	}
	logFile, err := os.Create(c.logPath)
	if err != nil {
		return err
	}
	defer logFile.Close()
	c.port = port
	args := append([]string{
		"-D", c.dataDir(),
		"-p", strconv.Itoa(port),
		"-c", "listen_addresses=127.0.0.1",
		"-c", "unix_socket_directories=" + c.dir,
		"-c", "max_connections=300",
		// Durability is worthless for a throwaway server; speed is not.
		"-c", "fsync=off",
		"-c", "synchronous_commit=off",
		"-c", "full_page_writes=off",
	}, serverArgs...)
	c.cmd = exec.Command(filepath.Join(bindir, "postgres"), args...)
	c.cmd.Stdout, c.cmd.Stderr = logFile, logFile
	c.cmd.SysProcAttr = &syscall.SysProcAttr{
		Credential: cred,
		// SIGQUIT is PostgreSQL's immediate shutdown.
		Pdeathsig: syscall.SIGQUIT,
		Setpgid:   true,
	}
	if err := c.cmd.Start(); err != nil {
		return fmt.Errorf("pgtest: start postgres: %w", err)
	}
	c.exited = make(chan struct{})
	go func() {
		_ = c.cmd.Wait()
		close(c.exited)
	}()
	if err := c.waitReady(); err != nil {
		c.kill()
		return fmt.Errorf("pgtest: %w\nserver log:\n%s", err, c.log())
	}
	return nil
}

// waitReady polls until the server accepts connections, exits, or
// startTimeout passes.
func (c *cluster) waitReady() error {
	deadline := time.Now().Add(startTimeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		conn, err := pgx.Connect(ctx, c.dsn("postgres"))
		cancel()
		if err == nil {
			return conn.Close(context.Background())
		}
		select {
		case <-c.exited:
			return errors.New("postgres exited during start")
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("postgres not ready after %s: %w", startTimeout, err)
		}
	}
}

// stop shuts the server down immediately (what pg_ctl stop -m immediate
// does) and removes its directory.
func (c *cluster) stop() error {
	c.kill()
	return os.RemoveAll(c.dir)
}

func (c *cluster) kill() {
	_ = c.cmd.Process.Signal(syscall.SIGQUIT)
	select {
	case <-c.exited:
	case <-time.After(stopTimeout):
		_ = c.cmd.Process.Kill()
		<-c.exited
	}
}

func (c *cluster) log() string {
	b, err := os.ReadFile(c.logPath)
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	return string(b)
}

func (c *cluster) dsn(database string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", c.port, database)
}

// createDatabase creates a fresh, uniquely named database.
func (c *cluster) createDatabase(ctx context.Context) (name string, err error) {
	name = fmt.Sprintf("pgtest_%d", c.dbs.Add(1))
	return name, c.admin(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize())
}

func (c *cluster) dropDatabase(ctx context.Context, name string) error {
	return c.admin(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
}

func (c *cluster) admin(ctx context.Context, sql string) error {
	conn, err := pgx.Connect(ctx, c.dsn("postgres"))
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	_, err = conn.Exec(ctx, sql)
	return err
}

// findBinDir returns the directory holding initdb and postgres:
// $PHOENIX_PG_BINDIR, `pg_config --bindir`, or Debian's PostgreSQL 15.
func findBinDir() (string, error) {
	var candidates []string
	if dir := os.Getenv("PHOENIX_PG_BINDIR"); dir != "" {
		candidates = append(candidates, dir)
	}
	if out, err := exec.Command("pg_config", "--bindir").Output(); err == nil {
		candidates = append(candidates, strings.TrimSpace(string(out)))
	}
	candidates = append(candidates, "/usr/lib/postgresql/15/bin")
	return firstBinDir(candidates)
}

// firstBinDir returns the first candidate holding initdb and postgres.
func firstBinDir(candidates []string) (string, error) {
	for _, dir := range candidates {
		if isExecutable(filepath.Join(dir, "initdb")) && isExecutable(filepath.Join(dir, "postgres")) {
			return dir, nil
		}
	}
	return "", fmt.Errorf("pgtest: PostgreSQL server binaries (initdb, postgres) not found in %s: "+
		"install the Debian package postgresql-15 (`make test` does) or set PHOENIX_PG_BINDIR",
		strings.Join(candidates, ", "))
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0
}

// serverCredential returns who the server runs as: nil (the current user)
// unless that is root, which PostgreSQL refuses; then postgres or nobody.
func serverCredential() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	for _, name := range []string{"postgres", "nobody"} {
		u, err := user.Lookup(name)
		if err != nil {
			continue
		}
		uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
		gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
		if err1 != nil || err2 != nil {
			continue
		}
		return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
	}
	return nil, errors.New("pgtest: running as root, and PostgreSQL refuses to: no postgres or nobody user to run it as")
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
