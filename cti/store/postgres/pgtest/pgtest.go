// Package pgtest starts a throwaway PostgreSQL server on loopback for
// tests: initdb into a temporary directory, the server on a free port,
// one new database per test, and the server stopped by its PID at the end.
// It uses Debian's postgresql-15 binaries (make test-cluster installs
// them); RB_PG_BIN names another bin directory.
//
// # Concurrency
//
// A Cluster is safe for concurrent use: NewDatabase may be called from
// parallel tests. Start and Stop belong to TestMain.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Cluster is one running server.
type Cluster struct {
	dir      string
	cmd      *exec.Cmd
	exited   chan struct{}
	port     int
	password string
	n        atomic.Int64
}

const superuser = "rb"

func binDir() string {
	if d := os.Getenv("RB_PG_BIN"); d != "" {
		return d
	}
	return "/usr/lib/postgresql/15/bin"
}

// Start initialises and starts a server, or fails with what is missing.
func Start(ctx context.Context) (c *Cluster, err error) {
	bin := binDir()
	for _, b := range []string{"initdb", "postgres"} {
		if _, err := os.Stat(filepath.Join(bin, b)); err != nil {
			return nil, fmt.Errorf("pgtest: %s not found in %s (apt-get install postgresql-15): %w", b, bin, err)
		}
	}
	dir, err := os.MkdirTemp("", "rb-pg-")
	if err != nil {
		return nil, fmt.Errorf("pgtest: %w", err)
	}
	c = &Cluster{dir: dir, exited: make(chan struct{})}
	defer func() {
		if err != nil {
			c.Stop()
		}
	}()
	// initdb and the server refuse to run as root; as root, they run as
	// the postgres user the Debian package creates.
	cred, err := runAs(dir)
	if err != nil {
		return nil, err
	}
	pw := make([]byte, 16)
	_, _ = rand.Read(pw)
	c.password = hex.EncodeToString(pw)
	pwfile := filepath.Join(dir, "pw")
	if err := os.WriteFile(pwfile, []byte(c.password+"\n"), 0o600); err != nil {
		return nil, fmt.Errorf("pgtest: %w", err)
	}
	if cred != nil {
		_ = os.Chown(pwfile, int(cred.Uid), int(cred.Gid))
	}
	data := filepath.Join(dir, "data")
	initdb := exec.CommandContext(ctx, filepath.Join(bin, "initdb"), "-D", data, "-U", superuser,
		"--pwfile", pwfile, "--auth", "scram-sha-256", "--no-sync", "--locale", "C", "-E", "UTF8")
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if out, err := initdb.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("pgtest: initdb: %w\n%s", err, out)
	}
	if c.port, err = freePort(); err != nil {
		return nil, err
	}
	// Durability settings off: the data is thrown away after the run.
	c.cmd = exec.Command(filepath.Join(bin, "postgres"), "-D", data, "-p", strconv.Itoa(c.port),
		"-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories="+dir,
		"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
		"-c", "max_connections=300")
	c.cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Setpgid: true, Pdeathsig: syscall.SIGKILL}
	logf, err := os.Create(filepath.Join(dir, "server.log"))
	if err != nil {
		return nil, fmt.Errorf("pgtest: %w", err)
	}
	c.cmd.Stdout, c.cmd.Stderr = logf, logf
	if err := c.cmd.Start(); err != nil {
		_ = logf.Close()
		return nil, fmt.Errorf("pgtest: start postgres: %w", err)
	}
	go func() {
		_ = c.cmd.Wait()
		_ = logf.Close()
		close(c.exited)
	}()
	if err := c.waitReady(ctx); err != nil {
		log, _ := os.ReadFile(filepath.Join(dir, "server.log"))
		return nil, fmt.Errorf("%w\n%s", err, log)
	}
	return c, nil
}

// runAs prepares dir for the postgres user when running as root and
// returns the credential to run the server with (nil: as ourselves).
func runAs(dir string) (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("pgtest: running as root needs the postgres user: %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if err := os.Chown(dir, uid, gid); err != nil {
		return nil, fmt.Errorf("pgtest: %w", err)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("pgtest: free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func (c *Cluster) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	var last error
	for {
		conn, err := pgx.Connect(ctx, c.URL("postgres"))
		if err == nil {
			return conn.Close(ctx)
		}
		last = err
		select {
		case <-c.exited:
			return fmt.Errorf("pgtest: postgres exited during start-up: %w", last)
		case <-ctx.Done():
			return fmt.Errorf("pgtest: postgres not ready: %w", last)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// URL is the connection URL of a database on the server.
func (c *Cluster) URL(database string) string {
	u := url.URL{Scheme: "postgres", User: url.UserPassword(superuser, c.password),
		Host: net.JoinHostPort("127.0.0.1", strconv.Itoa(c.port)), Path: "/" + database,
		RawQuery: "sslmode=disable"}
	return u.String()
}

// CreateDatabase makes a new empty database and returns its name.
func (c *Cluster) CreateDatabase(ctx context.Context) (string, error) {
	name := "rb_" + strconv.FormatInt(c.n.Add(1), 10)
	if err := c.admin(ctx, "CREATE DATABASE "+name); err != nil {
		return "", err
	}
	return name, nil
}

// NewDatabase makes a database for one test and returns its URL; the
// database is dropped, its connections closed by force, when the test ends.
func (c *Cluster) NewDatabase(t testing.TB) string {
	t.Helper()
	name, err := c.CreateDatabase(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.admin(context.Background(), "DROP DATABASE "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("drop %s: %v", name, err)
		}
	})
	return c.URL(name)
}

func (c *Cluster) admin(ctx context.Context, stmt string) error {
	conn, err := pgx.Connect(ctx, c.URL("postgres"))
	if err != nil {
		return fmt.Errorf("pgtest: %w", err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, stmt); err != nil {
		return fmt.Errorf("pgtest: %s: %w", stmt, err)
	}
	return nil
}

// Stop ends the server by its PID (a fast shutdown, then a kill) and
// removes its directory.
func (c *Cluster) Stop() {
	if c.cmd != nil && c.cmd.Process != nil {
		_ = c.cmd.Process.Signal(syscall.SIGINT)
		select {
		case <-c.exited:
		case <-time.After(15 * time.Second):
			_ = c.cmd.Process.Kill()
			<-c.exited
		}
	}
	if err := os.RemoveAll(c.dir); err != nil && !errors.Is(err, os.ErrNotExist) {
		fmt.Fprintf(os.Stderr, "pgtest: remove %s: %v\n", c.dir, err)
	}
}
