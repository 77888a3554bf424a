package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ringbridge/ringbridge/cti/ctitest"
	"github.com/ringbridge/ringbridge/media/trunk"
)

// These helpers run the product as its own process, the way an operator
// does, so that fault tests can kill it for real (SIGKILL) and start it
// again on the same data directory and ports.

// proc is one ringbridge process and its restarts.
type proc struct {
	t       *testing.T
	bin     string
	cfgPath string
	dataDir string
	base    string // "http://127.0.0.1:port"
	sip     string // "127.0.0.1:port"

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}       // closed when cmd has exited and been reaped
	out  *ctitest.SyncBuffer // everything every start printed
}

// productBinary returns the ringbridge binary: $RB_BIN when set (make
// builds it), otherwise one built for this test.
func productBinary(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("RB_BIN"); p != "" {
		if abs, err := filepath.Abs(p); err == nil {
			if _, err := os.Stat(abs); err == nil {
				return abs
			}
		}
	}
	bin := filepath.Join(t.TempDir(), "ringbridge")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// freePort returns a port free for TCP and UDP on 127.0.0.1 right now.
func freePort(t *testing.T) int {
	t.Helper()
	for range 50 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		u, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", port))
		l.Close()
		if err == nil {
			u.Close()
			return port
		}
	}
	t.Fatal("no free port")
	return 0
}

// newProc writes a configuration (carrier as the trunk, fixed loopback
// ports so restarts keep their addresses) adjusted by edit, and starts
// the product.
func newProc(t *testing.T, carrier *trunk.Phone, edit func(map[string]any)) *proc {
	t.Helper()
	p := &proc{t: t, bin: productBinary(t), dataDir: t.TempDir(), out: &ctitest.SyncBuffer{}}
	httpPort, sipPort, udpPort := freePort(t), freePort(t), freePort(t)
	rtpLow := 30000 + (os.Getpid()%500)*40
	cfg := map[string]any{
		"dataDir": p.dataDir, "certDir": filepath.Join(p.dataDir, "certs"), "tls": false,
		"httpAddr": fmt.Sprintf("127.0.0.1:%d", httpPort), "sipAddr": fmt.Sprintf("127.0.0.1:%d", sipPort),
		"mediaIp": "127.0.0.1", "webrtcUdpPort": udpPort, "webrtcTcpPort": 0,
		"rtpPorts":        fmt.Sprintf("%d-%d", rtpLow, rtpLow+39),
		"shutdownTimeout": "5s", "logLevel": "info",
		// The stand-in CRMs listen on loopback.
		"webhookAllowPrivate": []string{"127.0.0.1/32"},
		"trunks":              []map[string]any{{"name": "carrier", "address": carrier.Addr().String(), "allowFrom": []string{"127.0.0.1/32"}}},
	}
	if edit != nil {
		edit(cfg)
	}
	b, _ := json.Marshal(cfg)
	p.cfgPath = filepath.Join(p.dataDir, "config.json")
	if err := os.WriteFile(p.cfgPath, b, 0o600); err != nil {
		t.Fatal(err)
	}
	p.base = fmt.Sprintf("http://127.0.0.1:%d", httpPort)
	p.sip = fmt.Sprintf("127.0.0.1:%d", sipPort)
	t.Cleanup(p.kill)
	p.start()
	return p
}

// start runs the product and waits until it answers its health check.
func (p *proc) start() {
	p.t.Helper()
	cmd := exec.Command(p.bin, "serve", "-config", p.cfgPath)
	cmd.Stdout, cmd.Stderr = p.out, p.out
	if err := cmd.Start(); err != nil {
		p.t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	p.mu.Lock()
	p.cmd, p.done = cmd, done
	p.mu.Unlock()
	deadline := time.Now().Add(30 * time.Second)
	for {
		res, err := http.Get(p.base + "/healthz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				return
			}
		}
		select {
		case <-done:
			p.t.Fatalf("ringbridge exited at start: %v\n%s", cmd.ProcessState, p.out.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("ringbridge not healthy after 30 s\n%s", p.out.String())
		}
	}
}

// signal sends sig to the running process.
func (p *proc) signal(sig syscall.Signal) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd != nil {
		_ = p.cmd.Process.Signal(sig)
	}
}

// wait waits for the process to exit by itself.
func (p *proc) wait(timeout time.Duration) bool {
	p.mu.Lock()
	done := p.done
	p.mu.Unlock()
	if done == nil {
		return true
	}
	select {
	case <-done:
		return true
	case <-time.After(timeout):
		return false
	}
}

// kill ends the process with SIGKILL, as a crash would, and waits until
// it is gone.
func (p *proc) kill() {
	p.mu.Lock()
	cmd, done := p.cmd, p.done
	p.cmd, p.done = nil, nil
	p.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	<-done
}

// e2e returns the end-to-end helpers aimed at this process.
func (p *proc) e2e(ctx context.Context, carrier *trunk.Phone) *e2e {
	return &e2e{t: p.t, ctx: ctx, base: p.base, sip: p.sip, carrier: carrier, creds: demoCredentials(p.t, p.out.String())}
}
