//go:build cluster

package main

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ringbridge/ringbridge/cti/ctitest"
)

// kamailio is Debian's Kamailio running examples/kamailio/kamailio.cfg on
// loopback as the nodes' SIP front door, stopped by its PID.
type kamailio struct {
	addr   string // "127.0.0.1:port"
	cmd    *exec.Cmd
	exited chan struct{}
	out    *ctitest.SyncBuffer
}

// startKamailioAt runs Kamailio on port in front of nodes (their SIP addresses),
// sending the nodes' own calls to carrier.
func startKamailioAt(t *testing.T, port int, carrier string, nodes []string) *kamailio {
	t.Helper()
	bin := "/usr/sbin/kamailio"
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("%s (apt-get install kamailio; make test-cluster does): %v", bin, err)
	}
	cfg, err := filepath.Abs("examples/kamailio/kamailio.cfg")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	var list strings.Builder
	for _, n := range nodes {
		fmt.Fprintf(&list, "1 sip:%s\n", n)
	}
	if err := os.WriteFile(filepath.Join(dir, "ringbridge.list"), []byte(list.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	k := &kamailio{addr: fmt.Sprintf("127.0.0.1:%d", port), exited: make(chan struct{}), out: &ctitest.SyncBuffer{}}
	k.cmd = exec.Command(bin, "-DD", "-E", "-f", cfg, "-m", "128", "-M", "8",
		"-Y", dir, "-w", dir, "-P", filepath.Join(dir, "kamailio.pid"),
		"-A", "LISTEN=udp:"+k.addr,
		"-A", fmt.Sprintf("DISPATCHER_LIST=%q", filepath.Join(dir, "ringbridge.list")),
		"-A", fmt.Sprintf("CARRIER=%q", "sip:"+carrier),
		"-A", "PING_INTERVAL=1")
	k.cmd.Stdout, k.cmd.Stderr = k.out, k.out
	// Its own process group: Kamailio's main process signals its group
	// when it stops, and stop ends the group's stragglers by its id.
	k.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := k.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = k.cmd.Wait(); close(k.exited) }()
	t.Cleanup(k.stop)
	// Ready once it answers an OPTIONS of its own.
	deadline := time.Now().Add(20 * time.Second)
	for !k.answersOptions() {
		select {
		case <-k.exited:
			t.Fatalf("kamailio exited at start:\n%s", k.out.String())
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("kamailio not answering after 20 s:\n%s", k.out.String())
		}
	}
	return k
}

var kamOptionsSeq sync.Mutex

// answersOptions sends one OPTIONS to Kamailio itself and waits a
// moment for its 200.
func (k *kamailio) answersOptions() bool {
	kamOptionsSeq.Lock()
	defer kamOptionsSeq.Unlock()
	c, err := net.Dial("udp", k.addr)
	if err != nil {
		return false
	}
	defer c.Close()
	la := c.LocalAddr().String()
	branch := fmt.Sprintf("z9hG4bK-probe-%d", time.Now().UnixNano())
	msg := "OPTIONS sip:" + k.addr + " SIP/2.0\r\n" +
		"Via: SIP/2.0/UDP " + la + ";branch=" + branch + ";rport\r\n" +
		"Max-Forwards: 70\r\nFrom: <sip:probe@" + la + ">;tag=probe\r\nTo: <sip:" + k.addr + ">\r\n" +
		"Call-ID: " + branch + "\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
	if _, err := c.Write([]byte(msg)); err != nil {
		return false
	}
	_ = c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	buf := make([]byte, 2048)
	n, err := c.Read(buf)
	return err == nil && strings.HasPrefix(string(buf[:n]), "SIP/2.0 200")
}

// stop ends Kamailio: its main process stops its children; any left
// are ended through the process group it leads.
func (k *kamailio) stop() {
	if k.cmd.Process == nil {
		return
	}
	pgid := k.cmd.Process.Pid
	_ = k.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-k.exited:
	case <-time.After(10 * time.Second):
		_ = k.cmd.Process.Kill()
		<-k.exited
	}
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
}
