package trunk

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ringbridge/ringbridge/cti"
	"github.com/ringbridge/ringbridge/media/rtpio"
)

// The SIP side faces the internet: whatever arrives on its port, it must
// answer what SIP allows it to answer and keep serving.

// refuseAll is the cti side of these tests: it turns every call away.
type refuseAll struct {
	mu  sync.Mutex
	got []cti.InboundCall
}

func (h *refuseAll) InboundCall(_ context.Context, c cti.InboundCall) error {
	h.mu.Lock()
	h.got = append(h.got, c)
	h.mu.Unlock()
	return cti.Errorf(cti.KindNotFound, "no route for %s", c.To)
}

func (h *refuseAll) calls() []cti.InboundCall {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]cti.InboundCall(nil), h.got...)
}

func testLogger() *slog.Logger {
	if os.Getenv("RB_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// startTrunks serves SIP on loopback UDP and TCP, accepting INVITEs from
// 127.0.0.1 only.
func startTrunks(t testing.TB, h cti.InboundHandler) (tr *Trunks, udp, tcp netip.AddrPort) {
	return startTrunksWith(t, h, nil)
}

// startTrunksWith is startTrunks with the configuration adjusted by edit.
func startTrunksWith(t testing.TB, h cti.InboundHandler, edit func(*Config)) (tr *Trunks, udp, tcp netip.AddrPort) {
	t.Helper()
	cfg := Config{
		Trunks:     []TrunkConfig{{Name: "carrier", Address: "127.0.0.1:5999", AllowFrom: []string{"127.0.0.1/32"}}},
		MediaIP:    netip.MustParseAddr("127.0.0.1"),
		RTPPortMin: 13000,
		RTPPortMax: 13999,
		// Every test peer sends from 127.0.0.1; the limits have tests of
		// their own.
		RateLimits: RateLimits{InvitePerSecond: -1, OptionsPerSecond: -1, RegisterPerSecond: -1},
	}
	if edit != nil {
		edit(&cfg)
	}
	tr, err := New(cfg, h, testLogger())
	if err != nil {
		t.Fatal(err)
	}
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := tr.Serve(pc, ln); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.Close() })
	return tr, pc.LocalAddr().(*net.UDPAddr).AddrPort(), ln.Addr().(*net.TCPAddr).AddrPort()
}

// sipPeer sends raw SIP over UDP from its own socket.
type sipPeer struct {
	t      testing.TB
	conn   *net.UDPConn
	server netip.AddrPort
	// contact replaces the Contact URI's host:port (a far end behind NAT
	// announces its private address).
	contact string
}

func newSIPPeer(t testing.TB, server netip.AddrPort, localIP string) *sipPeer {
	t.Helper()
	conn, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(netip.MustParseAddr(localIP), 0)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return &sipPeer{t: t, conn: conn, server: server}
}

func (p *sipPeer) local() netip.AddrPort { return p.conn.LocalAddr().(*net.UDPAddr).AddrPort() }

func (p *sipPeer) sendRaw(b []byte) {
	p.t.Helper()
	if _, err := p.conn.WriteToUDPAddrPort(b, p.server); err != nil {
		p.t.Fatalf("sending %d bytes: %v", len(b), err)
	}
}

// sipReq is one request to send; zero fields get defaults.
type sipReq struct {
	method string
	callID string   // empty: no Call-ID header at all
	toTag  string   // set for an in-dialog request
	extra  []string // whole header lines, without CRLF
	body   string

	// filled in by build
	branch, fromTag, ruri string
}

func randToken() string { return strconv.FormatUint(rand.Uint64(), 36) }

// build fills in the transaction fields and returns the message.
func (p *sipPeer) build(r *sipReq) []byte {
	r.branch, r.fromTag = "z9hG4bK"+randToken(), randToken()
	r.ruri = "sip:15550001001@" + p.server.String()
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s SIP/2.0\r\n", r.method, r.ruri)
	fmt.Fprintf(&b, "Via: SIP/2.0/UDP %s;branch=%s;rport\r\n", p.local(), r.branch)
	b.WriteString("Max-Forwards: 70\r\n")
	fmt.Fprintf(&b, "From: \"Caller\" <sip:15557654321@%s>;tag=%s\r\n", p.local().Addr(), r.fromTag)
	fmt.Fprintf(&b, "To: <sip:15550001001@%s>", p.server.Addr())
	if r.toTag != "" {
		b.WriteString(";tag=" + r.toTag)
	}
	b.WriteString("\r\n")
	if r.callID != "" {
		fmt.Fprintf(&b, "Call-ID: %s\r\n", r.callID)
	}
	fmt.Fprintf(&b, "CSeq: 1 %s\r\n", r.method)
	contact := p.local().String()
	if p.contact != "" {
		contact = p.contact
	}
	fmt.Fprintf(&b, "Contact: <sip:15557654321@%s>\r\n", contact)
	for _, h := range r.extra {
		b.WriteString(h + "\r\n")
	}
	fmt.Fprintf(&b, "Content-Length: %d\r\n\r\n%s", len(r.body), r.body)
	return []byte(b.String())
}

// send sends r and returns it with its transaction fields.
func (p *sipPeer) send(r sipReq) sipReq {
	p.t.Helper()
	p.sendRaw(p.build(&r))
	return r
}

// sipRes is a parsed response.
type sipRes struct {
	status  int
	reason  string
	headers map[string]string // first value, lower-case names
	raw     string
}

func parseResponse(b []byte) (sipRes, error) {
	head, _, _ := strings.Cut(string(b), "\r\n\r\n")
	lines := strings.Split(head, "\r\n")
	var r sipRes
	r.raw = string(b)
	proto, rest, ok := strings.Cut(lines[0], " ")
	if !ok || proto != "SIP/2.0" {
		return r, fmt.Errorf("not a SIP response: %q", lines[0])
	}
	code, reason, _ := strings.Cut(rest, " ")
	var err error
	if r.status, err = strconv.Atoi(code); err != nil {
		return r, fmt.Errorf("status line %q", lines[0])
	}
	r.reason = reason
	r.headers = map[string]string{}
	compact := map[string]string{"i": "call-id", "v": "via", "f": "from", "t": "to", "l": "content-length", "c": "content-type"}
	for _, l := range lines[1:] {
		k, v, ok := strings.Cut(l, ":")
		if !ok {
			continue
		}
		k = strings.ToLower(strings.TrimSpace(k))
		if full, ok := compact[k]; ok {
			k = full
		}
		if _, dup := r.headers[k]; !dup {
			r.headers[k] = strings.TrimSpace(v)
		}
	}
	return r, nil
}

// final waits for the final response to req, skipping provisional ones.
func (p *sipPeer) final(req sipReq) sipRes {
	p.t.Helper()
	buf := make([]byte, 65536)
	deadline := time.Now().Add(5 * time.Second)
	for {
		if err := p.conn.SetReadDeadline(deadline); err != nil {
			p.t.Fatal(err)
		}
		n, err := p.conn.Read(buf)
		if err != nil {
			p.t.Fatalf("%s %s: no final response: %v", req.method, req.callID, err)
		}
		res, err := parseResponse(buf[:n])
		if err != nil {
			p.t.Fatalf("%s %s: %v", req.method, req.callID, err)
		}
		if !strings.Contains(res.headers["via"], "branch="+req.branch) {
			continue // a retransmission for an earlier request
		}
		if res.status >= 200 {
			if req.method == "INVITE" {
				p.ack(req, res)
			}
			return res
		}
	}
}

// ack acknowledges a non-2xx final response to an INVITE (RFC 3261
// 17.1.1.3), so the server stops retransmitting it.
func (p *sipPeer) ack(req sipReq, res sipRes) {
	p.t.Helper()
	if res.status < 300 {
		return
	}
	var b strings.Builder
	fmt.Fprintf(&b, "ACK %s SIP/2.0\r\n", req.ruri)
	fmt.Fprintf(&b, "Via: SIP/2.0/UDP %s;branch=%s;rport\r\n", p.local(), req.branch)
	b.WriteString("Max-Forwards: 70\r\n")
	fmt.Fprintf(&b, "From: \"Caller\" <sip:15557654321@%s>;tag=%s\r\n", p.local().Addr(), req.fromTag)
	fmt.Fprintf(&b, "To: %s\r\n", res.headers["to"])
	if req.callID != "" {
		fmt.Fprintf(&b, "Call-ID: %s\r\n", req.callID)
	}
	b.WriteString("CSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n")
	p.sendRaw([]byte(b.String()))
}

// expectSilence checks that nothing comes back for a while: a message
// that cannot be parsed cannot be answered.
func (p *sipPeer) expectSilence(d time.Duration) {
	p.t.Helper()
	buf := make([]byte, 65536)
	if err := p.conn.SetReadDeadline(time.Now().Add(d)); err != nil {
		p.t.Fatal(err)
	}
	if n, err := p.conn.Read(buf); err == nil {
		p.t.Fatalf("unexpected reply: %q", buf[:min(n, 200)])
	}
}

// options checks that the server still answers OPTIONS with 200.
func (p *sipPeer) options() {
	p.t.Helper()
	req := p.send(sipReq{method: "OPTIONS", callID: "opt-" + randToken()})
	if res := p.final(req); res.status != 200 {
		p.t.Fatalf("OPTIONS: %d %s", res.status, res.reason)
	}
}

// offer is an SDP offer; codecs is the m= line's format list plus rtpmaps.
func offer(ip string, port int, formats string, attrs ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "v=0\r\no=caller 1 1 IN IP4 %s\r\ns=-\r\nc=IN IP4 %s\r\nt=0 0\r\n", ip, ip)
	fmt.Fprintf(&b, "m=audio %d RTP/AVP %s\r\n", port, formats)
	for _, a := range attrs {
		b.WriteString("a=" + a + "\r\n")
	}
	return b.String()
}

var (
	sdpHeader  = []string{"Content-Type: application/sdp"}
	goodOffer  = offer("127.0.0.1", 40000, "0 8 101", "rtpmap:0 PCMU/8000", "rtpmap:8 PCMA/8000", "rtpmap:101 telephone-event/8000", "sendrecv")
	g729Offer  = offer("127.0.0.1", 40000, "18", "rtpmap:18 G729/8000", "fmtp:18 annexb=no")
	brokenSDP  = "v=0\r\no=caller 1 1 IN IP4 127.0.0.1\r\nthis is not sdp\r\nm=audio ninety RTP/AVP 0\r\n"
	hostnameIP = offer("carrier.example", 40000, "0")
	videoOffer = strings.Replace(offer("127.0.0.1", 40000, "96", "rtpmap:96 H264/90000"), "m=audio", "m=video", 1)
)

// quietSIPLogs keeps sipgo's transport layer, which logs every
// unparseable datagram through slog.Default, out of the test output.
func quietSIPLogs(t testing.TB) {
	if os.Getenv("RB_TEST_LOG") != "" {
		return
	}
	old := slog.Default()
	slog.SetDefault(slog.New(slog.DiscardHandler))
	t.Cleanup(func() { slog.SetDefault(old) })
}

func TestTrunksSurviveHostileInput(t *testing.T) {
	quietSIPLogs(t)
	h := &refuseAll{}
	tr, udpAddr, _ := startTrunks(t, h)

	// Unparseable datagrams: nothing to answer, nothing to break.
	junk := []struct {
		name string
		b    []byte
	}{
		{"text garbage", []byte("hello, is this the SIP server?\x00\x01\x02")},
		{"binary junk", func() []byte {
			b := make([]byte, 1200)
			r := rand.New(rand.NewPCG(1, 2))
			for i := range b {
				b[i] = byte(r.UintN(256))
			}
			return b
		}()},
		// 70 KB does not fit in a UDP datagram; this is the largest that
		// does, twice sipgo's read buffer.
		{"the largest UDP datagram", bytes.Repeat([]byte("A"), 65507)},
		{"a STUN binding request", []byte{0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xA4, 0x42, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}},
		{"a response nobody asked for", []byte("SIP/2.0 200 OK\r\n\r\n")},
		{"NUL bytes", make([]byte, 64)},
	}
	for _, c := range junk {
		t.Run(c.name, func(t *testing.T) {
			p := newSIPPeer(t, udpAddr, "127.0.0.1")
			p.sendRaw(c.b)
			p.expectSilence(200 * time.Millisecond)
			p.options()
		})
	}

	t.Run("truncated INVITE", func(t *testing.T) {
		p := newSIPPeer(t, udpAddr, "127.0.0.1")
		b := p.build(&sipReq{method: "INVITE", callID: "trunc-" + randToken(), extra: sdpHeader, body: goodOffer})
		headEnd := bytes.Index(b, []byte("\r\n\r\n"))
		// Inside the request line, mid-header, headers without their end,
		// and a body shorter than its Content-Length. Each is refused with
		// 400 where its Via, Call-ID and CSeq survived the cut (RFC 4475
		// §3.1.2.2), and otherwise not answered at all.
		for i, cut := range []int{10, headEnd / 2, headEnd + 2, len(b) - 20} {
			p.sendRaw(b[:cut])
			got := p.readAll(300 * time.Millisecond)
			for _, r := range got {
				if r.status != 400 {
					t.Errorf("cut at %d: answered %d %s", cut, r.status, r.reason)
				}
			}
			if i >= 2 && len(got) == 0 {
				t.Errorf("cut at %d (all transaction headers present): no 400", cut)
			}
		}
		p.options()
		if n := len(h.calls()); n != 0 {
			t.Fatalf("a truncated INVITE reached cti (%d calls)", n)
		}
	})

	cases := []struct {
		name   string
		from   string // local IP to send from (127.0.0.2 is loopback, not the trunk)
		req    sipReq
		status int
	}{
		{"INVITE with malformed SDP", "127.0.0.1", sipReq{method: "INVITE", extra: sdpHeader, body: brokenSDP}, 400},
		{"INVITE with a hostname in c=", "127.0.0.1", sipReq{method: "INVITE", extra: sdpHeader, body: hostnameIP}, 400},
		{"INVITE offering only G.729", "127.0.0.1", sipReq{method: "INVITE", extra: sdpHeader, body: g729Offer}, 488},
		{"INVITE offering video only", "127.0.0.1", sipReq{method: "INVITE", extra: sdpHeader, body: videoOffer}, 488},
		// Late offer: routed like any call (cti refuses it here).
		{"INVITE without a body", "127.0.0.1", sipReq{method: "INVITE"}, 404},
		{"INVITE with a body that is not SDP", "127.0.0.1", sipReq{method: "INVITE", extra: []string{"Content-Type: text/plain"}, body: "hello"}, 415},
		{"INVITE from outside the trunk's allow list", "127.0.0.2", sipReq{method: "INVITE", extra: sdpHeader, body: goodOffer}, 403},
		{"re-INVITE for an unknown dialog", "127.0.0.1", sipReq{method: "INVITE", toTag: "nosuchdialog", extra: sdpHeader, body: goodOffer}, 481},
		{"BYE for an unknown dialog", "127.0.0.1", sipReq{method: "BYE", toTag: "nosuchdialog"}, 481},
		{"INFO for an unknown dialog", "127.0.0.1", sipReq{method: "INFO", toTag: "nosuchdialog",
			extra: []string{"Content-Type: application/dtmf-relay"}, body: "Signal=5\r\nDuration=160\r\n"}, 481},
		{"INVITE without Call-ID", "127.0.0.1", sipReq{method: "INVITE", callID: "-", extra: sdpHeader, body: goodOffer}, 400},
		{"a valid INVITE cti refuses", "127.0.0.1", sipReq{method: "INVITE", extra: sdpHeader, body: goodOffer}, 404},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := newSIPPeer(t, udpAddr, c.from)
			req := c.req
			switch req.callID {
			case "-":
				req.callID = ""
			case "":
				req.callID = "case-" + randToken()
			}
			req = p.send(req)
			res := p.final(req)
			if res.status != c.status {
				t.Fatalf("got %d %s, want %d\n%s", res.status, res.reason, c.status, res.raw)
			}
			if got := res.headers["call-id"]; got != req.callID {
				t.Errorf("response Call-ID %q, want %q", got, req.callID)
			}
			p.options()
		})
	}

	// RFC 3261 §8.1.1 makes Call-ID mandatory, and a UAS should answer a
	// request without it with 400. Today only INVITE gets that (above);
	// OPTIONS and BYE are answered as if the header were there. This
	// checks what must hold regardless: no dialog is touched, and the
	// server keeps serving.
	t.Run("OPTIONS and BYE without Call-ID", func(t *testing.T) {
		for _, method := range []string{"OPTIONS", "BYE"} {
			p := newSIPPeer(t, udpAddr, "127.0.0.1")
			req := p.send(sipReq{method: method})
			res := p.final(req)
			if method == "BYE" && res.status < 400 {
				t.Errorf("BYE without Call-ID answered %d", res.status)
			}
			if res.status != 400 {
				t.Logf("%s without Call-ID answered %d %s (400 would be correct)", method, res.status, res.reason)
			}
			p.options()
		}
	})

	// cti saw exactly the two valid calls (one a late offer), with the
	// caller and the number.
	calls := h.calls()
	if len(calls) != 2 {
		t.Errorf("cti got %d calls, want 2", len(calls))
	}
	for _, c := range calls {
		if c.From != "15557654321" || c.To != "15550001001" || c.Trunk != "carrier" {
			t.Errorf("cti got %+v, want a call from 15557654321 to 15550001001 on carrier", c)
		}
	}
	if n := tr.ports.Allocations(); n != 0 {
		t.Errorf("refused calls took %d RTP port pairs, want none", n)
	}
	// Every refused call gave back its leg and its RTP ports.
	waitUntil(t, "legs and RTP ports to be released", func() bool { return tr.ActiveLegs() == 0 && tr.ports.InUse() == 0 })
	newSIPPeer(t, udpAddr, "127.0.0.1").options()
}

func TestTrunksSurviveOversizedTCPMessage(t *testing.T) {
	quietSIPLogs(t)
	_, udpAddr, tcpAddr := startTrunks(t, &refuseAll{})
	c, err := net.DialTCP("tcp", nil, net.TCPAddrFromAddrPort(tcpAddr))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// 70 KB of headers that never end: more than the parser may buffer.
	var b bytes.Buffer
	b.WriteString("OPTIONS sip:x@127.0.0.1 SIP/2.0\r\n")
	for b.Len() < 70*1024 {
		b.WriteString("X-Filler: " + strings.Repeat("z", 100) + "\r\n")
	}
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	_, _ = c.Write(b.Bytes()) // the server may hang up midway
	// The server must drop the connection rather than keep buffering.
	if _, err := io.ReadAll(c); errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatal("server kept a connection open after 70 KB of unterminated headers")
	}

	c2, err := net.DialTCP("tcp", nil, net.TCPAddrFromAddrPort(tcpAddr))
	if err != nil {
		t.Fatalf("TCP listener gone: %v", err)
	}
	defer c2.Close()
	local := c2.LocalAddr().(*net.TCPAddr).AddrPort()
	fmt.Fprintf(c2, "OPTIONS sip:x@%s;transport=tcp SIP/2.0\r\nVia: SIP/2.0/TCP %s;branch=z9hG4bK%s\r\nMax-Forwards: 70\r\n"+
		"From: <sip:probe@%s>;tag=%s\r\nTo: <sip:x@%s>\r\nCall-ID: tcp-%s\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n",
		tcpAddr, local, randToken(), local.Addr(), randToken(), tcpAddr.Addr(), randToken())
	_ = c2.SetReadDeadline(time.Now().Add(5 * time.Second))
	status, err := bufio.NewReader(c2).ReadString('\n')
	if err != nil {
		t.Fatalf("no answer to OPTIONS over TCP: %v", err)
	}
	if !strings.HasPrefix(status, "SIP/2.0 200") {
		t.Fatalf("OPTIONS over TCP: %q", status)
	}
	newSIPPeer(t, udpAddr, "127.0.0.1").options()
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// sdpWith builds an SDP body: the session lines with connection line c
// (none if empty), then lines, each CRLF-terminated.
func sdpWith(c string, lines ...string) string {
	head := []string{"v=0", "o=far 1 1 IN IP4 192.0.2.10", "s=-"}
	if c != "" {
		head = append(head, c)
	}
	head = append(head, "t=0 0")
	return strings.Join(append(head, lines...), "\r\n") + "\r\n"
}

func TestParseSDP(t *testing.T) {
	ap := func(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }
	cases := []struct {
		name string
		sdp  string
		want remoteMedia
		err  error
	}{
		{"PCMU with events", sdpWith("c=IN IP4 192.0.2.10", "m=audio 4000 RTP/AVP 0 8 101",
			"a=rtpmap:0 PCMU/8000", "a=rtpmap:8 PCMA/8000", "a=rtpmap:101 telephone-event/8000", "a=fmtp:101 0-16"),
			remoteMedia{ap("192.0.2.10:4000"), rtpio.Format{Codec: rtpio.CodecPCMU, AudioPT: 0, EventPT: 101}, "sendrecv"}, nil},
		{"the far end's first choice wins", sdpWith("c=IN IP4 192.0.2.10", "m=audio 4000 RTP/AVP 8 0"),
			remoteMedia{ap("192.0.2.10:4000"), rtpio.Format{Codec: rtpio.CodecPCMA, AudioPT: 8}, "sendrecv"}, nil},
		{"static types need no rtpmap; unknown ones are skipped", sdpWith("c=IN IP4 192.0.2.10", "m=audio 4000 RTP/AVP 18 3 8",
			"a=rtpmap:18 G729/8000"),
			remoteMedia{ap("192.0.2.10:4000"), rtpio.Format{Codec: rtpio.CodecPCMA, AudioPT: 8}, "sendrecv"}, nil},
		{"dynamic PT, lower-case name, channels given", sdpWith("c=IN IP4 192.0.2.10", "m=audio 4000 RTP/AVP 96 97",
			"a=rtpmap:96 pcmu/8000/1", "a=rtpmap:97 telephone-event/8000/1"),
			remoteMedia{ap("192.0.2.10:4000"), rtpio.Format{Codec: rtpio.CodecPCMU, AudioPT: 96, EventPT: 97}, "sendrecv"}, nil},
		{"PCMU/8000/1 on its static PT", sdpWith("c=IN IP4 192.0.2.10", "m=audio 4000 RTP/AVP 0", "a=rtpmap:0 PCMU/8000/1"),
			remoteMedia{ap("192.0.2.10:4000"), rtpio.Format{Codec: rtpio.CodecPCMU, AudioPT: 0}, "sendrecv"}, nil},
		{"stereo G.711 is not ours", sdpWith("c=IN IP4 192.0.2.10", "m=audio 4000 RTP/AVP 96", "a=rtpmap:96 PCMU/8000/2"),
			remoteMedia{}, ErrNoCodec},
		{"wideband telephone-event is not ours", sdpWith("c=IN IP4 192.0.2.10", "m=audio 4000 RTP/AVP 8 99 100 101",
			"a=rtpmap:99 telephone-event/80000", "a=rtpmap:100 telephone-event/48000", "a=rtpmap:101 telephone-event/8000"),
			remoteMedia{ap("192.0.2.10:4000"), rtpio.Format{Codec: rtpio.CodecPCMA, AudioPT: 8, EventPT: 101}, "sendrecv"}, nil},
		{"media c= overrides session c=, media direction overrides session", sdpWith("c=IN IP4 192.0.2.10", "a=sendonly",
			"m=audio 4000 RTP/AVP 0", "c=IN IP4 198.51.100.7", "a=recvonly"),
			remoteMedia{ap("198.51.100.7:4000"), rtpio.Format{Codec: rtpio.CodecPCMU}, "recvonly"}, nil},
		{"session direction applies", sdpWith("c=IN IP4 0.0.0.0", "a=inactive", "m=audio 4000 RTP/AVP 0"),
			remoteMedia{ap("0.0.0.0:4000"), rtpio.Format{Codec: rtpio.CodecPCMU}, "inactive"}, nil},
		{"a rejected stream is skipped", sdpWith("c=IN IP4 192.0.2.10", "m=audio 0 RTP/AVP 0", "m=video 5000 RTP/AVP 96",
			"m=audio 4002 RTP/AVP 8"),
			remoteMedia{ap("192.0.2.10:4002"), rtpio.Format{Codec: rtpio.CodecPCMA, AudioPT: 8}, "sendrecv"}, nil},
		{"IPv6", sdpWith("c=IN IP6 2001:db8::5", "m=audio 4000 RTP/AVP 0"),
			remoteMedia{ap("[2001:db8::5]:4000"), rtpio.Format{Codec: rtpio.CodecPCMU}, "sendrecv"}, nil},
		{"G.729 only", g729Offer, remoteMedia{}, ErrNoCodec},
		{"video only", videoOffer, remoteMedia{}, ErrNoAudio},
		{"only a rejected audio stream", sdpWith("c=IN IP4 192.0.2.10", "m=audio 0 RTP/AVP 0"), remoteMedia{}, ErrNoAudio},
		{"no connection address", sdpWith("", "m=audio 4000 RTP/AVP 0"), remoteMedia{}, ErrBadSDP},
		{"hostname in c=", hostnameIP, remoteMedia{}, ErrBadSDP},
		{"multicast with TTL", sdpWith("c=IN IP4 233.252.0.1/127", "m=audio 4000 RTP/AVP 0"), remoteMedia{}, ErrBadSDP},
		{"not SDP", brokenSDP, remoteMedia{}, ErrBadSDP},
		{"binary", "\x00\x01\x02\xff", remoteMedia{}, ErrBadSDP},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := parseSDP([]byte(c.sdp))
			if c.err != nil {
				if !errors.Is(err, c.err) {
					t.Fatalf("err %v, want %v", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != c.want {
				t.Fatalf("got %+v\nwant %+v", got, c.want)
			}
		})
	}
}

func TestBuildSDPRoundTrip(t *testing.T) {
	cases := []struct {
		name      string
		local     netip.AddrPort
		format    rtpio.Format
		offer     bool
		direction string
		want      rtpio.Format // what the far end reads back
	}{
		{"offer", netip.MustParseAddrPort("192.0.2.1:10000"), rtpio.Format{}, true, "sendrecv",
			rtpio.Format{Codec: rtpio.CodecPCMU, AudioPT: 0, EventPT: defaultEventPT}},
		{"hold offer", netip.MustParseAddrPort("192.0.2.1:10002"), rtpio.Format{}, true, "sendonly",
			rtpio.Format{Codec: rtpio.CodecPCMU, AudioPT: 0, EventPT: defaultEventPT}},
		{"PCMA answer with events", netip.MustParseAddrPort("192.0.2.1:10004"),
			rtpio.Format{Codec: rtpio.CodecPCMA, AudioPT: 8, EventPT: 96}, false, "recvonly",
			rtpio.Format{Codec: rtpio.CodecPCMA, AudioPT: 8, EventPT: 96}},
		{"PCMU answer on a dynamic PT, no events", netip.MustParseAddrPort("192.0.2.1:10006"),
			rtpio.Format{Codec: rtpio.CodecPCMU, AudioPT: 112}, false, "inactive",
			rtpio.Format{Codec: rtpio.CodecPCMU, AudioPT: 112}},
		{"IPv6", netip.MustParseAddrPort("[2001:db8::1]:10008"),
			rtpio.Format{Codec: rtpio.CodecPCMU, AudioPT: 0, EventPT: 101}, false, "sendrecv",
			rtpio.Format{Codec: rtpio.CodecPCMU, AudioPT: 0, EventPT: 101}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			body := buildSDP(42, 7, c.local, c.format, c.offer, c.direction)
			if !bytes.HasSuffix(body, []byte("\r\n")) || bytes.Contains(bytes.ReplaceAll(body, []byte("\r\n"), nil), []byte("\n")) {
				t.Errorf("lines not CRLF-terminated:\n%s", body)
			}
			if !bytes.Contains(body, []byte("o=ringbridge 42 7 IN ")) || !bytes.Contains(body, []byte("a=ptime:20\r\n")) {
				t.Errorf("missing origin or ptime:\n%s", body)
			}
			got, err := parseSDP(body)
			if err != nil {
				t.Fatalf("our own SDP does not parse: %v\n%s", err, body)
			}
			want := remoteMedia{addr: c.local, format: c.want, direction: c.direction}
			if got != want {
				t.Fatalf("read back %+v, want %+v\n%s", got, want, body)
			}
			if c.offer && !bytes.Contains(body, []byte("m=audio "+strconv.Itoa(int(c.local.Port()))+" RTP/AVP 0 8 101\r\n")) {
				t.Errorf("offer does not list PCMU, PCMA and telephone-event:\n%s", body)
			}
		})
	}
}

func TestAnswerDirection(t *testing.T) {
	for remote, want := range map[string]string{
		"sendrecv": "sendrecv",
		"sendonly": "recvonly",
		"recvonly": "sendonly",
		"inactive": "inactive",
		"":         "sendrecv",
		"bogus":    "sendrecv",
	} {
		if got := answerDirection(remote); got != want {
			t.Errorf("answerDirection(%q) = %q, want %q", remote, got, want)
		}
	}
}

// FuzzParseSDP feeds parseSDP whatever a far end might send. It must never
// panic, and whatever it accepts must be usable: a G.711 codec, a real
// address, a known direction, and an answer we build from it must read
// back the same.
//
//	go test -run '^$' -fuzz FuzzParseSDP -fuzztime 20s ./media/trunk
func FuzzParseSDP(f *testing.F) {
	for _, s := range []string{
		goodOffer, g729Offer, videoOffer, brokenSDP, hostnameIP, "",
		sdpWith("c=IN IP6 2001:db8::5", "m=audio 4000 RTP/AVP 96 97", "a=rtpmap:96 PCMA/8000/1", "a=rtpmap:97 telephone-event/8000", "a=sendonly"),
		sdpWith("c=IN IP4 192.0.2.10", "m=audio 0 RTP/AVP 0", "m=audio 65535 RTP/AVP 8 0", "a=inactive"),
		sdpWith("c=IN IP4 192.0.2.10", "m=audio 70000 RTP/AVP 0"),
		sdpWith("c=IN IP4 192.0.2.10", "m=audio 4000/2 RTP/AVP 127 0", "a=rtpmap:127 PCMU/8000", "a=rtpmap:x"),
		string(buildSDP(1, 1, netip.MustParseAddrPort("127.0.0.1:5004"), rtpio.Format{}, true, "sendrecv")),
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		rm, err := parseSDP(body)
		if err != nil {
			if !errors.Is(err, ErrBadSDP) && !errors.Is(err, ErrNoCodec) && !errors.Is(err, ErrNoAudio) {
				t.Fatalf("unclassified error %v", err)
			}
			return
		}
		if rm.format.Codec != rtpio.CodecPCMU && rm.format.Codec != rtpio.CodecPCMA {
			t.Fatalf("accepted codec %v", rm.format.Codec)
		}
		if rm.format.AudioPT > 127 || rm.format.EventPT > 127 {
			t.Fatalf("payload types %d/%d out of range", rm.format.AudioPT, rm.format.EventPT)
		}
		if !rm.addr.IsValid() || rm.addr.Port() == 0 {
			t.Fatalf("accepted address %v", rm.addr)
		}
		switch rm.direction {
		case "sendrecv", "sendonly", "recvonly", "inactive":
		default:
			t.Fatalf("direction %q", rm.direction)
		}
		answer := buildSDP(1, 1, rm.addr, rm.format, false, answerDirection(rm.direction))
		back, err := parseSDP(answer)
		if err != nil {
			t.Fatalf("our answer to an accepted offer does not parse: %v\n%s", err, answer)
		}
		want := rm.format
		if want.AudioPT == want.EventPT {
			want.EventPT = 0 // one PT cannot carry both; the audio wins
		}
		if back.format != want || back.addr != rm.addr {
			t.Fatalf("answer reads back %+v at %v, offer gave %+v at %v\n%s", back.format, back.addr, want, rm.addr, answer)
		}
	})
}
