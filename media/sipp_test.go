package media_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ringbridge/ringbridge/cti"
	"github.com/ringbridge/ringbridge/media/mediatest"
)

// These tests put SIPp (Debian package sip-tester, `make deps-apt`) on the
// far side of the trunk instead of the in-process carrier Phone, so the SIP
// and RTP that ringbridge exchanges are checked against an independent
// implementation. SIPp runs on loopback, media included (-i/-mi 127.0.0.1),
// with a scenario from testdata/sipp, and must exit 0: every message it
// expected arrived in order and passed the scenario's checks.
//
// Without sipp on PATH the tests skip, unless CI is set: then they fail, so
// a CI image that lost the package cannot pass silently.

// sippDialled is the number the agent dials out to; the outbound scenarios
// check the INVITE's Request-URI for it.
const sippDialled = "15559990000"

// sippBinary returns the path of sipp, skipping or failing when it is absent.
func sippBinary(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("sipp")
	if err == nil {
		return path
	}
	if _, ci := os.LookupEnv("CI"); ci {
		t.Fatalf("sipp not found on PATH (%v) and CI is set: install sip-tester (make deps-apt)", err)
	}
	t.Skipf("sipp not found on PATH (%v); install sip-tester (make deps-apt) to run SIPp tests", err)
	return ""
}

// sippScenario is the absolute path of a scenario in testdata/sipp.
func sippScenario(t *testing.T, name string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("testdata", "sipp", name))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(p); err != nil {
		t.Fatal(err)
	}
	return p
}

// freeUDPPort returns a loopback UDP port that was free a moment ago, for
// a sipp option that needs a fixed port.
func freeUDPPort(t *testing.T) int {
	t.Helper()
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port
}

// freeRTPPort returns an even loopback UDP port p with p+1 and p+2 free
// too: sipp binds audio on p (-mp) and video on p+2, and ringbridge sends
// its RTCP reports to p+1.
func freeRTPPort(t *testing.T) int {
	t.Helper()
	for range 100 {
		c, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		p := c.LocalAddr().(*net.UDPAddr).Port
		if p%2 != 0 || p+2 > 65535 {
			c.Close()
			continue
		}
		conns := []net.PacketConn{c}
		ok := true
		for _, q := range []int{p + 1, p + 2} {
			cq, err := net.ListenPacket("udp", net.JoinHostPort("127.0.0.1", strconv.Itoa(q)))
			if err != nil {
				ok = false
				break
			}
			conns = append(conns, cq)
		}
		for _, cc := range conns {
			cc.Close()
		}
		if ok {
			return p
		}
	}
	t.Fatal("no free even UDP port pair for SIPp's media")
	return 0
}

// writeTone writes d of a freqHz sine as raw μ-law, the format SIPp's
// rtp_stream plays as payload type 0. Whole 20 ms packets, and a whole
// number of periods for the tones used here, so the loop joins cleanly.
func writeTone(t *testing.T, path string, freqHz float64, d time.Duration) {
	t.Helper()
	n := int(d/mediatest.FrameDuration) * mediatest.G711FrameSize
	buf := make([]byte, n)
	mediatest.NewToneGenerator(freqHz, 0.3, 8000).NextPCMU(buf)
	if err := os.WriteFile(path, buf, 0o644); err != nil {
		t.Fatal(err)
	}
}

// sippRun is one sipp process.
type sippRun struct {
	dir    string
	cmd    *exec.Cmd
	out    bytes.Buffer // stdout and stderr; read only after done
	done   chan struct{}
	err    error // from Wait; set before done is closed
	dumped bool
}

const (
	sippGlobalTimeout = 30 * time.Second // sipp -timeout: it gives up by itself
	sippKillAfter     = 45 * time.Second // then the test kills it
)

// startSipp runs sipp in dir (its working directory, where relative media
// files are looked up and its logs go) with the options every test needs
// plus args. Stdin is /dev/null. The process is killed when the test ends.
func startSipp(t *testing.T, dir string, args ...string) *sippRun {
	t.Helper()
	bin := sippBinary(t)
	ctx, cancel := context.WithTimeout(context.Background(), sippKillAfter)
	common := []string{
		"-m", "1", "-nostdin",
		"-timeout", fmt.Sprintf("%ds", int(sippGlobalTimeout/time.Second)), "-timeout_error",
		"-i", "127.0.0.1", "-mi", "127.0.0.1", "-bind_local", "-ci", "127.0.0.1",
		"-trace_err", "-error_file", filepath.Join(dir, "errors.log"),
		"-trace_msg", "-message_file", filepath.Join(dir, "messages.log"),
	}
	s := &sippRun{dir: dir, done: make(chan struct{})}
	s.cmd = exec.CommandContext(ctx, bin, append(args, common...)...)
	s.cmd.Dir = dir
	s.cmd.Stdout = &s.out
	s.cmd.Stderr = &s.out
	s.cmd.WaitDelay = 5 * time.Second
	// Stdin stays nil (/dev/null); -nostdin stops sipp polling it.
	if err := s.cmd.Start(); err != nil {
		cancel()
		t.Fatalf("starting sipp: %v", err)
	}
	t.Logf("sipp %s", strings.Join(s.cmd.Args[1:], " "))
	go func() {
		s.err = s.cmd.Wait()
		close(s.done)
	}()
	t.Cleanup(func() {
		cancel()
		<-s.done
		if t.Failed() {
			s.dump(t)
		}
	})
	return s
}

// wait waits for sipp to exit and fails the test unless it exited 0.
func (s *sippRun) wait(t *testing.T) {
	t.Helper()
	select {
	case <-s.done:
	case <-time.After(sippKillAfter + 10*time.Second):
		t.Fatal("sipp did not exit")
	}
	if s.err == nil {
		if os.Getenv("RB_TEST_LOG") != "" {
			s.dump(t)
		}
		return
	}
	var ee *exec.ExitError
	if errors.As(s.err, &ee) {
		s.fatalf(t, "sipp failed: exit %d (%s)", ee.ExitCode(), sippExitMeaning(ee.ExitCode()))
	}
	s.fatalf(t, "sipp failed: %v", s.err)
}

// fatalf fails the test with the reason first, then sipp's output and logs.
func (s *sippRun) fatalf(t *testing.T, format string, args ...any) {
	t.Helper()
	t.Errorf(format, args...)
	s.dump(t)
	t.FailNow()
}

func sippExitMeaning(code int) string {
	switch code {
	case 1:
		return "the call failed"
	case 97:
		return "exit on internal command"
	case 99:
		return "no call processed"
	case 255:
		return "fatal error"
	case 254:
		return "fatal error binding a socket"
	case -1:
		return "killed"
	}
	return "unknown"
}

// dump logs sipp's output and logs, once.
func (s *sippRun) dump(t *testing.T) {
	t.Helper()
	if s.dumped {
		return
	}
	s.dumped = true
	select {
	case <-s.done:
		t.Logf("sipp exit: %v\n--- sipp output ---\n%s", s.err, s.out.String())
	default:
		t.Log("sipp still running")
	}
	for _, name := range []string{"errors.log", "messages.log"} {
		b, err := os.ReadFile(filepath.Join(s.dir, name))
		if err != nil {
			continue
		}
		const max = 30000
		if len(b) > max {
			b = append([]byte("[...]\n"), b[len(b)-max:]...)
		}
		t.Logf("--- sipp %s ---\n%s", name, b)
	}
}

// waitBound waits until sipp has bound 127.0.0.1:port for UDP, so the
// first INVITE towards it is not lost to a socket that does not exist yet.
// It reads /proc/net/udp; where that is missing, SIP retransmission covers
// the gap.
func (s *sippRun) waitBound(t *testing.T, port int) {
	t.Helper()
	// The address is in host byte order: 127.0.0.1 reads 0100007F on
	// little-endian machines, 7F000001 on big-endian ones.
	want := []string{fmt.Sprintf("0100007F:%04X", port), fmt.Sprintf("7F000001:%04X", port)}
	deadline := time.Now().Add(15 * time.Second)
	for {
		f, err := os.Open("/proc/net/udp")
		if err != nil {
			return
		}
		found := false
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if fields := strings.Fields(sc.Text()); len(fields) > 1 && (fields[1] == want[0] || fields[1] == want[1]) {
				found = true
				break
			}
		}
		f.Close()
		if found {
			return
		}
		select {
		case <-s.done:
			s.fatalf(t, "sipp exited before listening on port %d: %v", port, s.err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("sipp not listening on 127.0.0.1:%d", port)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// failed reports whether sipp has exited unsuccessfully.
func (s *sippRun) failed() bool {
	select {
	case <-s.done:
		return s.err != nil
	default:
		return false
	}
}

// waitCall is agent.waitCall that gives up as soon as sipp fails, instead
// of waiting out its timeout for a call that can no longer progress.
func (s *sippRun) waitCall(t *testing.T, a *agent, state cti.CallState) cti.CallInfo {
	t.Helper()
	timeout := time.After(15 * time.Second)
	done := s.done
	for {
		select {
		case ci := <-a.calls:
			if ci.State == state {
				return ci
			}
		case <-done:
			if s.err != nil {
				s.fatalf(t, "sipp failed (%v) while agent %s waited for a call in state %s", s.err, a.ext, state)
			}
			done = nil // sipp finished its part; the event may still come
		case <-timeout:
			t.Fatalf("agent %s: no call event in state %s", a.ext, state)
		}
	}
}

// hears is agent.hears that gives up as soon as sipp fails.
func (s *sippRun) hears(t *testing.T, a *agent, toneHz float64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(a.h.ctx, 10*time.Second)
	defer cancel()
	go func() {
		select {
		case <-s.done:
			if s.err != nil {
				cancel()
			}
		case <-ctx.Done():
		}
	}()
	if err := a.heard.WaitFor(ctx, toneHz); err != nil {
		if s.failed() {
			s.fatalf(t, "sipp failed (%v) before agent %s heard %.0f Hz", s.err, a.ext, toneHz)
		}
		t.Fatalf("agent %s does not hear %.0f Hz: %v", a.ext, toneHz, err)
	}
}

// SIPp calls a DID as the carrier, offering PCMU, and streams a 1000 Hz
// tone from a raw μ-law file once the agent has answered: the agent must
// detect that tone in what its browser leg receives. The agent's hold
// re-INVITE then tells SIPp the tone was heard (SIPp checks it asks for
// a=sendonly and answers recvonly) — a handshake rather than a fixed pause
// in the scenario, so a slow machine cannot make SIPp hang up before the
// agent had time to listen. SIPp hangs up with BYE and the agent sees the
// call end as remote_hangup.
func TestSippInboundCallHearsTone(t *testing.T) {
	sippBinary(t)
	h := newHarness(t, harnessOpts{})
	a := h.signIn("1001", agentTone)

	dir := t.TempDir()
	writeTone(t, filepath.Join(dir, "tone.pcmu"), carrierTone, time.Second)
	s := startSipp(t, dir, h.sipAddr.String(),
		"-sf", sippScenario(t, "inbound_uac.xml"),
		"-s", didAgent1,
		"-p", strconv.Itoa(freeUDPPort(t)),
		// rtp_stream file (relative to dir), loop forever, payload type 0.
		"-key", "tone", "tone.pcmu,-1,0",
		"-mp", strconv.Itoa(freeRTPPort(t)),
	)

	ring := s.waitCall(t, a, cti.CallRinging)
	if ring.Remote != callerNum || ring.Direction != cti.DirectionInbound {
		t.Fatalf("ringing call shows %q (%s), want caller %q inbound", ring.Remote, ring.Direction, callerNum)
	}
	if err := a.sess.Answer(ring.ID); err != nil {
		t.Fatal(err)
	}
	s.waitCall(t, a, cti.CallActive)
	s.hears(t, a, carrierTone)

	if err := a.sess.Hold(ring.ID, true); err != nil {
		t.Fatalf("hold (the signal for SIPp to hang up): %v", err)
	}
	end := s.waitCall(t, a, cti.CallEnded)
	if end.EndReason != cti.EndRemoteHangup {
		t.Fatalf("end reason %q, want %q", end.EndReason, cti.EndRemoteHangup)
	}
	s.wait(t)
	if n := h.svc.ActiveCalls(); n != 0 {
		t.Fatalf("%d calls still active", n)
	}
}

// The agent dials out through a trunk pointing at SIPp, which answers
// (180, then 200 with a PCMU SDP) and echoes every RTP packet back to its
// sender (-rtp_echo): the agent must hear its own 440 Hz tone, which can
// only happen if ringbridge sent the agent's audio to the address in
// SIPp's answer and took the echo back into the bridge. The agent hangs
// up; SIPp must see the BYE and exit 0.
func TestSippOutboundCallEchoesAgent(t *testing.T) {
	testSippOutbound(t, "outbound_uas.xml")
}

// As TestSippOutboundCallEchoesAgent, but SIPp first answers the INVITE
// 401 with an MD5 qop=auth challenge and verifies the Authorization of the
// repeated INVITE against the trunk's credentials.
func TestSippOutboundDigestAuthEchoesAgent(t *testing.T) {
	testSippOutbound(t, "outbound_uas_digest.xml", "-key", "user", carrierUser, "-key", "pass", carrierPass)
}

func testSippOutbound(t *testing.T, scenario string, args ...string) {
	sippBinary(t)
	sipPort := freeUDPPort(t)
	h := newHarness(t, harnessOpts{trunkAddr: net.JoinHostPort("127.0.0.1", strconv.Itoa(sipPort))})
	a := h.signIn("1001", agentTone)

	s := startSipp(t, t.TempDir(), append([]string{
		"-sf", sippScenario(t, scenario),
		"-p", strconv.Itoa(sipPort),
		"-mp", strconv.Itoa(freeRTPPort(t)),
		"-rtp_echo",
	}, args...)...)
	s.waitBound(t, sipPort)

	ci, err := a.sess.Dial(h.ctx, sippDialled)
	if err != nil {
		t.Fatal(err)
	}
	if ci.Remote != sippDialled {
		t.Fatalf("dialled %q, want %q", ci.Remote, sippDialled)
	}
	if active := s.waitCall(t, a, cti.CallActive); active.ID != ci.ID {
		t.Fatalf("call %s became active, want %s", active.ID, ci.ID)
	}
	s.hears(t, a, agentTone)

	if err := a.sess.Hangup(ci.ID); err != nil {
		t.Fatal(err)
	}
	if end := s.waitCall(t, a, cti.CallEnded); end.EndReason != cti.EndLocalHangup {
		t.Fatalf("end reason %q, want %q", end.EndReason, cti.EndLocalHangup)
	}
	s.wait(t)
}
