// Package natstest starts a throwaway nats-server (Debian's package) on a
// free loopback port for tests, and stops it by its PID.
//
// # Concurrency
//
// Start and Stop belong to one goroutine (TestMain); URL may be read from
// any.
package natstest

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// Server is one running nats-server.
type Server struct {
	cmd    *exec.Cmd
	exited chan struct{}
	dir    string
	port   int
}

// Start runs nats-server (RB_NATS_SERVER, default /usr/sbin/nats-server)
// on 127.0.0.1 and waits until it accepts connections.
func Start(ctx context.Context) (*Server, error) {
	bin := os.Getenv("RB_NATS_SERVER")
	if bin == "" {
		bin = "/usr/sbin/nats-server"
	}
	if _, err := os.Stat(bin); err != nil {
		return nil, fmt.Errorf("natstest: %s (apt-get install nats-server): %w", bin, err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("natstest: free port: %w", err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	_ = l.Close()
	dir, err := os.MkdirTemp("", "rb-nats-")
	if err != nil {
		return nil, fmt.Errorf("natstest: %w", err)
	}
	s := &Server{dir: dir, port: port, exited: make(chan struct{})}
	logf, err := os.Create(filepath.Join(dir, "server.log"))
	if err != nil {
		return nil, fmt.Errorf("natstest: %w", err)
	}
	s.cmd = exec.Command(bin, "-a", "127.0.0.1", "-p", strconv.Itoa(port), "-js", "-sd", filepath.Join(dir, "js"))
	s.cmd.Stdout, s.cmd.Stderr = logf, logf
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := s.cmd.Start(); err != nil {
		_ = logf.Close()
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("natstest: start: %w", err)
	}
	go func() {
		_ = s.cmd.Wait()
		_ = logf.Close()
		close(s.exited)
	}()
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), time.Second)
		if err == nil {
			_ = c.Close()
			return s, nil
		}
		select {
		case <-s.exited:
			log, _ := os.ReadFile(filepath.Join(dir, "server.log"))
			s.Stop()
			return nil, fmt.Errorf("natstest: nats-server exited: %s", log)
		case <-ctx.Done():
			s.Stop()
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.Stop()
			return nil, fmt.Errorf("natstest: nats-server not listening: %w", err)
		}
	}
}

// URL is the server's client URL.
func (s *Server) URL() string { return "nats://127.0.0.1:" + strconv.Itoa(s.port) }

// Stop ends the server by its PID and removes its directory.
func (s *Server) Stop() {
	if s.cmd != nil && s.cmd.Process != nil {
		_ = s.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-s.exited:
		case <-time.After(10 * time.Second):
			_ = s.cmd.Process.Kill()
			<-s.exited
		}
	}
	_ = os.RemoveAll(s.dir)
}
