package peer

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"runtime"
	"runtime/pprof"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/dtls/v3"
	"github.com/pion/stun/v4"
	"github.com/ringbridge/ringbridge/cti"
	"github.com/ringbridge/ringbridge/media/rtpio"
)

// liteServer is an API on the (default) lite stack with loopback sockets.
func liteServer(t *testing.T, cfg Config) *API {
	t.Helper()
	api := liteServerStack(t, cfg)
	if api.lite == nil {
		t.Fatal("the default stack is not lite")
	}
	return api
}

// liteServerStack is an API on cfg.Stack with loopback sockets.
func liteServerStack(t *testing.T, cfg Config) *API {
	t.Helper()
	cfg.ListenIP, cfg.IncludeLoopback = "127.0.0.1", true
	api, err := New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = api.Close() })
	return api
}

// connect offers from a new client of capi to a new endpoint of api.
func connect(t *testing.T, api *API, capi *ClientAPI, ev cti.AgentEndpointEvents) (testEndpoint, *Client) {
	t.Helper()
	aep, err := api.NewEndpoint("s-"+t.Name(), ev)
	if err != nil {
		t.Fatal(err)
	}
	ep := aep.(testEndpoint)
	c, err := capi.NewClient()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = c.Close()
		_ = ep.Close()
	})
	negotiate(t, ep, c, false)
	return ep, c
}

func negotiate(t *testing.T, ep testEndpoint, c *Client, restart bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	offer, err := c.Offer(ctx, restart)
	if err != nil {
		t.Fatal(err)
	}
	answer, err := ep.HandleOffer(ctx, offer)
	if err != nil {
		t.Fatal(err)
	}
	if _, lite := ep.(*liteEndpoint); lite && !strings.Contains(answer, "a=ice-lite") {
		t.Fatalf("answer is not ICE-lite:\n%s", answer)
	}
	if err := c.SetAnswer(answer); err != nil {
		t.Fatal(err)
	}
	select {
	case <-c.Connected():
	case <-ctx.Done():
		t.Fatal("client never connected")
	}
}

// frameSink counts the frames a reader delivers whose payload starts
// with mark.
type frameSink struct {
	mark byte
	n    atomic.Int64
}

func (s *frameSink) WriteFrame(f *rtpio.Frame) {
	if f.Codec == rtpio.CodecPCMU && len(f.Payload) == 160 && f.Payload[0] == s.mark {
		s.n.Add(1)
	}
}

// clientSends has c send frames filled with mark and counts those the
// endpoint's reader delivers.
func clientSends(ep testEndpoint, c *Client, mark byte) *frameSink {
	sink := &frameSink{mark: mark}
	ep.Reader().Sink.Store(sink)
	c.SendAudio(func(dst []byte) {
		for i := range dst {
			dst[i] = mark
		}
	})
	return sink
}

// pump writes marked 20 ms frames to w until ctx ends.
func pump(ctx context.Context, w *rtpio.Writer, mark byte) {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	var f rtpio.Frame
	f.Payload, f.Codec = bytes.Repeat([]byte{mark}, 160), rtpio.CodecPCMU
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		w.WriteFrame(&f)
		f.Header.SequenceNumber++
		f.Header.Timestamp += 160
	}
}

// audioBothWays has the client send frames marked 0x55 and the
// endpoint's writer frames marked 0x2a until the test ends, and returns
// how many marked frames each side has decoded.
func audioBothWays(t *testing.T, ep testEndpoint, c *Client) (atServer, atClient func() int64) {
	sink := clientSends(ep, c, 0x55)
	var heard atomic.Int64
	c.OnAudio(func(p []byte) {
		if len(p) == 160 && p[0] == 0x2a {
			heard.Add(1)
		}
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		pump(ctx, ep.Writer(), 0x2a)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return sink.n.Load, heard.Load
}

func waitCount(t *testing.T, what string, n func() int64, want int64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for n() < want {
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d frames, want %d", what, n(), want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Audio flows both ways through a lite endpoint, each side decoding what
// the other sent, and keeps flowing after an ICE restart.
func TestLiteAudioBothWaysAndICERestart(t *testing.T) {
	api := liteServer(t, Config{})
	capi, err := NewClientAPI()
	if err != nil {
		t.Fatal(err)
	}
	var states []string
	var stMu = make(chan struct{}, 1)
	stMu <- struct{}{}
	ep, c := connect(t, api, capi, cti.AgentEndpointEvents{OnConnectionState: func(s string) {
		<-stMu
		states = append(states, s)
		stMu <- struct{}{}
	}})
	atServer, atClient := audioBothWays(t, ep, c)
	waitCount(t, "client → server", atServer, 25)
	waitCount(t, "server → client", atClient, 25)

	negotiate(t, ep, c, true)
	s0, c0 := atServer(), atClient()
	waitCount(t, "client → server after the ICE restart", atServer, s0+25)
	waitCount(t, "server → client after the ICE restart", atClient, c0+25)

	<-stMu
	got := strings.Join(states, ",")
	stMu <- struct{}{}
	if !strings.HasPrefix(got, "connecting,connected") {
		t.Errorf("states %q, want connecting then connected", got)
	}
}

// Every SRTP profile the server accepts carries audio both ways: the
// server marshals and encrypts each packet in one buffer, which each
// profile's cipher must allow.
func TestLiteAudioOnEverySRTPProfile(t *testing.T) {
	api := liteServer(t, Config{})
	for profile := range srtpProfiles {
		t.Run(fmt.Sprintf("%#04x", uint16(profile)), func(t *testing.T) {
			capi, err := NewClientAPIWith(ClientOptions{SRTPProfiles: []dtls.SRTPProtectionProfile{profile}})
			if err != nil {
				t.Fatal(err)
			}
			ep, c := connect(t, api, capi, cti.AgentEndpointEvents{})
			atServer, atClient := audioBothWays(t, ep, c)
			waitCount(t, "client → server", atServer, 10)
			waitCount(t, "server → client", atClient, 10)
		})
	}
}

// DTMF keyed in the client arrives as digits at the server.
func TestLiteDTMFFromBrowser(t *testing.T) {
	api := liteServer(t, Config{})
	capi, err := NewClientAPI()
	if err != nil {
		t.Fatal(err)
	}
	digits := make(chan rune, 8)
	_, c := connect(t, api, capi, cti.AgentEndpointEvents{OnDTMF: func(d rune) { digits <- d }})
	c.SendAudio(func(dst []byte) { clear(dst) })
	if err := c.SendDTMF(context.Background(), "47#"); err != nil {
		t.Fatal(err)
	}
	var got []rune
	for len(got) < 3 {
		select {
		case d := <-digits:
			got = append(got, d)
		case <-time.After(10 * time.Second):
			t.Fatalf("digits %q, want 47#", string(got))
		}
	}
	if string(got) != "47#" {
		t.Fatalf("digits %q, want 47#", string(got))
	}
}

// An agent that can only reach the server over TCP gets its audio
// through the ICE-TCP passive candidate.
func TestLiteICETCP(t *testing.T) {
	api := liteServer(t, Config{TCPPort: freeTCPPort(t)})
	capi, err := NewClientAPIWith(ClientOptions{TCP: true})
	if err != nil {
		t.Fatal(err)
	}
	ep, c := connect(t, api, capi, cti.AgentEndpointEvents{})
	atServer := clientSends(ep, c, 0x33)
	waitCount(t, "client → server over ICE-TCP", atServer.n.Load, 25)
	if p := ep.(*liteEndpoint).path.Load(); p == nil || p.tcp == nil {
		t.Fatalf("media path %v, want the TCP connection", p)
	}
}

func freeTCPPort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// Checks with a wrong password or an unknown username are not answered,
// junk on the shared port is dropped, and a connected session's audio
// goes on meanwhile.
func TestLiteRefusesForgedChecksAndSurvivesJunk(t *testing.T) {
	api := liteServer(t, Config{})
	capi, err := NewClientAPI()
	if err != nil {
		t.Fatal(err)
	}
	ep, c := connect(t, api, capi, cti.AgentEndpointEvents{})
	atServer := clientSends(ep, c, 0x44)
	le := ep.(*liteEndpoint)
	le.mu.Lock()
	ufrag := le.ufrag
	le.mu.Unlock()

	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	server := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: api.UDPPort()}
	check := func(user, pwd string) bool {
		t.Helper()
		m, err := stun.Build(stun.TransactionID, stun.BindingRequest, stun.NewUsername(user),
			stun.NewShortTermIntegrity(pwd), stun.Fingerprint)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := conn.WriteToUDP(m.Raw, server); err != nil {
			t.Fatal(err)
		}
		_ = conn.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
		buf := make([]byte, 1500)
		n, _, err := conn.ReadFromUDP(buf)
		return err == nil && n > 0
	}
	if check(ufrag+":x", "not-the-password") {
		t.Error("a check with the wrong password was answered")
	}
	if check("nobody:x", "whatever") {
		t.Error("a check for an unknown username was answered")
	}
	le.mu.Lock()
	pwd := le.pwd
	le.mu.Unlock()
	if !check(ufrag+":x", pwd) {
		t.Error("a check with the right credentials was not answered (the test cannot tell refusals apart)")
	}

	// A nominating check captured and replayed from another address is
	// not answered and does not move the agent's media.
	pathBefore := *le.path.Load()
	m, err := stun.Build(stun.TransactionID, stun.BindingRequest, stun.NewUsername(ufrag+":x"),
		stun.RawAttribute{Type: stun.AttrUseCandidate}, stun.NewShortTermIntegrity(pwd), stun.Fingerprint)
	if err != nil {
		t.Fatal(err)
	}
	sendAndWait := func(c *net.UDPConn) bool {
		if _, err := c.WriteToUDP(m.Raw, server); err != nil {
			t.Fatal(err)
		}
		_ = c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
		n, _, err := c.ReadFromUDP(make([]byte, 1500))
		return err == nil && n > 0
	}
	if !sendAndWait(conn) {
		t.Fatal("the original nominating check was not answered")
	}
	// The original took the path (it nominated); put the client's back
	// by its own next check, and replay from a stranger's socket.
	le.path.Store(&pathBefore)
	thief, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer thief.Close()
	if sendAndWait(thief) {
		t.Error("a replayed check from another address was answered")
	}
	if got := *le.path.Load(); got != pathBefore {
		t.Errorf("the replay moved the media path to %v", got)
	}
	for _, junk := range [][]byte{{0}, {1, 2, 3}, {22, 254, 253, 0, 0}, bytes.Repeat([]byte{0x80}, 40), {0xff, 0xff}} {
		_, _ = conn.WriteToUDP(junk, server)
	}
	from := atServer.n.Load()
	waitCount(t, "client → server after the junk", atServer.n.Load, from+25)
}

// Once connected a lite session runs no goroutine of its own: the
// handshake's is gone, media rides the shared socket's reader — on
// Linux the media pollers, which read it with the SIP legs' sockets.
func TestLiteSessionHasNoGoroutines(t *testing.T) {
	api := liteServer(t, Config{})
	capi, err := NewClientAPI()
	if err != nil {
		t.Fatal(err)
	}
	for range 5 {
		connect(t, api, capi, cti.AgentEndpointEvents{})
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		var b strings.Builder
		_ = pprof.Lookup("goroutine").WriteTo(&b, 2)
		n := strings.Count(b.String(), "(*liteEndpoint).handshake")
		if n == 0 {
			if runtime.GOOS == "linux" && strings.Contains(b.String(), "(*liteNet).readLoop") {
				t.Fatal("the shared socket has a read loop of its own; the media pollers should read it")
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d handshake goroutines left after the sessions connected", n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
