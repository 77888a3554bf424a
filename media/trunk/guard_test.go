package trunk

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/ringbridge/ringbridge/cti"
	"github.com/ringbridge/ringbridge/cti/ctitest"
)

// readAll collects every response to p within d.
func (p *sipPeer) readAll(d time.Duration) []sipRes {
	p.t.Helper()
	var out []sipRes
	buf := make([]byte, 65536)
	deadline := time.Now().Add(d)
	for {
		_ = p.conn.SetReadDeadline(deadline)
		n, err := p.conn.Read(buf)
		if err != nil {
			return out
		}
		if r, err := parseResponse(buf[:n]); err == nil {
			out = append(out, r)
		}
	}
}

func TestRateLimitPerSource(t *testing.T) {
	quietSIPLogs(t)
	logs := &ctitest.SyncBuffer{}
	_, udpAddr, _ := startTrunksWith(t, &refuseAll{}, func(c *Config) {
		c.RateLimits = RateLimits{OptionsPerSecond: 0.5, OptionsBurst: 3}
		c.testLog = slog.New(slog.NewTextHandler(logs, nil))
	})
	p := newSIPPeer(t, udpAddr, "127.0.0.1")
	const n = 20
	for range n {
		p.send(sipReq{method: "OPTIONS", callID: "flood-" + randToken()})
	}
	var ok, busy int
	for _, r := range p.readAll(time.Second) {
		switch r.status {
		case 200:
			ok++
		case 503:
			busy++
			if r.headers["retry-after"] == "" {
				t.Errorf("503 without Retry-After:\n%s", r.raw)
			}
		default:
			t.Errorf("unexpected %d %s", r.status, r.reason)
		}
	}
	// The burst passes; one 503 tells the source to back off; the rest
	// is dropped unanswered.
	if ok != 3 || busy != 1 {
		t.Fatalf("%d OPTIONS: %d answered 200, %d answered 503; want 3 and 1, the rest dropped", n, ok, busy)
	}
	if !strings.Contains(logs.String(), "SIP rate limit exceeded") || !strings.Contains(logs.String(), "source=127.0.0.1") {
		t.Errorf("no log line names the source:\n%s", logs.String())
	}
	// Another source is not affected.
	newSIPPeer(t, udpAddr, "127.0.0.2").options()
}

func TestRateLimiterForgetsLeastRecentSource(t *testing.T) {
	l := newLimiter(RateLimits{InvitePerSecond: 1, InviteBurst: 1, Sources: 3}, nil)
	now := time.Now()
	first := netip.MustParseAddr("192.0.2.1")
	if l.check(first, "INVITE", now) != admit || l.check(first, "INVITE", now) == admit {
		t.Fatal("the second INVITE in the same instant passed a burst of one")
	}
	for i := 2; i <= 10; i++ {
		l.check(netip.AddrFrom4([4]byte{192, 0, 2, byte(i)}), "INVITE", now)
	}
	if got := l.tracked(); got != 3 {
		t.Fatalf("tracking %d sources, want the bound of 3", got)
	}
	// The first source was forgotten, so it starts afresh.
	if l.check(first, "INVITE", now) != admit {
		t.Fatal("an evicted source was still limited")
	}
	if l.check(first, "BYE", now) != admit {
		t.Fatal("BYE is not rate limited")
	}
}

func TestIdleTCPConnectionsReaped(t *testing.T) {
	quietSIPLogs(t)
	tr, _, tcpAddr := startTrunksWith(t, &refuseAll{}, func(c *Config) { c.TCPIdleTimeout = time.Second })
	const n = 100
	var idle []net.Conn
	for range n {
		c, err := net.DialTCP("tcp", nil, net.TCPAddrFromAddrPort(tcpAddr))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		idle = append(idle, c)
	}
	// One connection keeps talking (RFC 5626 double-CRLF pings).
	keeper, err := net.DialTCP("tcp", nil, net.TCPAddrFromAddrPort(tcpAddr))
	if err != nil {
		t.Fatal(err)
	}
	defer keeper.Close()
	stop := make(chan struct{})
	pinged := make(chan struct{})
	go func() {
		defer close(pinged)
		for {
			select {
			case <-stop:
				return
			case <-time.After(100 * time.Millisecond):
				if _, err := keeper.Write([]byte("\r\n\r\n")); err != nil {
					return
				}
			}
		}
	}()
	waitUntil(t, "all connections accepted", func() bool { return tr.OpenTCPConns() == n+1 })
	waitUntil(t, "idle connections to be closed", func() bool { return tr.OpenTCPConns() == 1 })
	for i, c := range idle {
		_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
		if _, err := io.ReadAll(c); err != nil {
			t.Fatalf("idle connection %d not closed by the server: %v", i, err)
		}
	}
	close(stop)
	<-pinged
	// The talking one is still served.
	local := keeper.LocalAddr().(*net.TCPAddr).AddrPort()
	fmt.Fprintf(keeper, "OPTIONS sip:x@%s;transport=tcp SIP/2.0\r\nVia: SIP/2.0/TCP %s;branch=z9hG4bK%s\r\nMax-Forwards: 70\r\n"+
		"From: <sip:probe@%s>;tag=%s\r\nTo: <sip:x@%s>\r\nCall-ID: keep-%s\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n",
		tcpAddr, local, randToken(), local.Addr(), randToken(), tcpAddr.Addr(), randToken())
	res := readTCPResponse(t, newTCPPeer(keeper), "OPTIONS")
	if res.status != 200 {
		t.Fatalf("OPTIONS over the kept connection: %d", res.status)
	}
}

// tcpPeer reads SIP messages from a raw TCP connection.
type tcpPeer struct {
	net.Conn
	br *bufio.Reader
}

func newTCPPeer(c net.Conn) *tcpPeer { return &tcpPeer{Conn: c, br: bufio.NewReader(c)} }

// readTCPResponse reads responses from c until one for method.
func readTCPResponse(t *testing.T, c *tcpPeer, method string) sipRes {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	br := c.br
	for {
		var head strings.Builder
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				t.Fatalf("reading a response: %v", err)
			}
			if line == "\r\n" && head.Len() == 0 {
				continue // a keep-alive pong
			}
			head.WriteString(line)
			if line == "\r\n" {
				break
			}
		}
		res, err := parseResponse([]byte(head.String()))
		if err != nil {
			t.Fatal(err)
		}
		body := make([]byte, atoi(res.headers["content-length"]))
		if _, err := io.ReadFull(br, body); err != nil {
			t.Fatal(err)
		}
		res.raw += string(body)
		if strings.HasSuffix(res.headers["cseq"], method) {
			return res
		}
	}
}

func atoi(s string) int { n, _ := strconv.Atoi(strings.TrimSpace(s)); return n }

// ringOnly rings every call and never answers.
type ringOnly struct{}

func (ringOnly) InboundCall(_ context.Context, c cti.InboundCall) error {
	go func() { _ = c.Leg.Ringing(context.Background()) }()
	return nil
}

// raw builds a request by hand, for what sipReq cannot say.
func (p *sipPeer) raw(startLine, callID, branch, cseq string, extra ...string) {
	p.t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "%s\r\nVia: SIP/2.0/UDP %s;branch=%s;rport\r\nMax-Forwards: 70\r\n", startLine, p.local(), branch)
	fmt.Fprintf(&b, "From: <sip:15557654321@%s>;tag=ft\r\nTo: <sip:15550001001@%s>\r\nCall-ID: %s\r\nCSeq: %s\r\n", p.local().Addr(), p.server.Addr(), callID, cseq)
	for _, h := range extra {
		b.WriteString(h + "\r\n")
	}
	b.WriteString("Content-Length: 0\r\n\r\n")
	p.sendRaw([]byte(b.String()))
}

func tagOf(to string) string {
	_, tag, _ := strings.Cut(to, "tag=")
	tag, _, _ = strings.Cut(tag, ";")
	return tag
}

func TestSIPHeaderRules(t *testing.T) {
	quietSIPLogs(t)
	tr, udpAddr, tcpAddr := startTrunks(t, ringOnly{})

	t.Run("405 says what is allowed", func(t *testing.T) {
		p := newSIPPeer(t, udpAddr, "127.0.0.1")
		req := p.send(sipReq{method: "SUBSCRIBE", callID: "sub-" + randToken(), extra: []string{"Event: presence"}})
		res := p.final(req)
		if res.status != 405 || !strings.Contains(res.headers["allow"], "INVITE") {
			t.Fatalf("got %d with Allow %q, want 405 listing INVITE", res.status, res.headers["allow"])
		}
	})
	t.Run("CANCEL matching nothing gets 481", func(t *testing.T) {
		p := newSIPPeer(t, udpAddr, "127.0.0.1")
		req := p.send(sipReq{method: "CANCEL", callID: "nocall-" + randToken()})
		if res := p.final(req); res.status != 481 {
			t.Fatalf("got %d %s, want 481", res.status, res.reason)
		}
	})
	t.Run("unsupported Require gets 420", func(t *testing.T) {
		p := newSIPPeer(t, udpAddr, "127.0.0.1")
		req := p.send(sipReq{method: "INVITE", callID: "req-" + randToken(), extra: append([]string{"Require: 100rel, x-nope"}, sdpHeader...), body: goodOffer})
		res := p.final(req)
		if res.status != 420 || !strings.Contains(res.headers["unsupported"], "100rel") || !strings.Contains(res.headers["unsupported"], "x-nope") {
			t.Fatalf("got %d with Unsupported %q, want 420 naming 100rel and x-nope", res.status, res.headers["unsupported"])
		}
		if tr.ports.Allocations() != 0 {
			t.Fatal("a refused INVITE took RTP ports")
		}
	})
	t.Run("an unknown SIP version is refused, not echoed", func(t *testing.T) {
		p := newSIPPeer(t, udpAddr, "127.0.0.1")
		branch := "z9hG4bK" + randToken()
		p.raw("OPTIONS sip:x@"+udpAddr.String()+" SIP/7.0", "vers-"+randToken(), branch, "1 OPTIONS")
		res := p.final(sipReq{method: "OPTIONS", branch: branch})
		if res.status != 505 || strings.Contains(res.raw, "SIP/7.0") {
			t.Fatalf("got:\n%s\nwant a SIP/2.0 505 not mentioning SIP/7.0", res.raw)
		}
	})
	t.Run("CSeq method mismatch gets 400 with a reason", func(t *testing.T) {
		p := newSIPPeer(t, udpAddr, "127.0.0.1")
		branch := "z9hG4bK" + randToken()
		p.raw("OPTIONS sip:x@"+udpAddr.String()+" SIP/2.0", "cseq-"+randToken(), branch, "1 INVITE")
		res := p.final(sipReq{method: "OPTIONS", branch: branch})
		if res.status != 400 || res.reason == "Bad Request" {
			t.Fatalf("got %d %q, want 400 saying why", res.status, res.reason)
		}
	})
	t.Run("one To-tag for 180, 487 and the 200 to CANCEL", func(t *testing.T) {
		p := newSIPPeer(t, udpAddr, "127.0.0.1")
		req := p.send(sipReq{method: "INVITE", callID: "cancel-" + randToken(), extra: sdpHeader, body: goodOffer})
		var ringing sipRes
		for _, r := range p.readUntil(func(r sipRes) bool { return r.status == 180 }) {
			ringing = r
		}
		tag := tagOf(ringing.headers["to"])
		if tag == "" {
			t.Fatalf("180 without To-tag:\n%s", ringing.raw)
		}
		var b strings.Builder
		fmt.Fprintf(&b, "CANCEL %s SIP/2.0\r\nVia: SIP/2.0/UDP %s;branch=%s;rport\r\nMax-Forwards: 70\r\n", req.ruri, p.local(), req.branch)
		fmt.Fprintf(&b, "From: \"Caller\" <sip:15557654321@%s>;tag=%s\r\nTo: <sip:15550001001@%s>\r\nCall-ID: %s\r\nCSeq: 1 CANCEL\r\nContent-Length: 0\r\n\r\n",
			p.local().Addr(), req.fromTag, p.server.Addr(), req.callID)
		p.sendRaw([]byte(b.String()))
		var okCancel, terminated sipRes
		p.readUntil(func(r sipRes) bool {
			switch {
			case r.status == 200 && strings.HasSuffix(r.headers["cseq"], "CANCEL"):
				okCancel = r
			case r.status == 487:
				terminated = r
			}
			return okCancel.status != 0 && terminated.status != 0
		})
		p.ack(req, terminated)
		if got := tagOf(okCancel.headers["to"]); got != tag {
			t.Errorf("200 to CANCEL has To-tag %q, 180 had %q", got, tag)
		}
		if got := tagOf(terminated.headers["to"]); got != tag {
			t.Errorf("487 has To-tag %q, 180 had %q", got, tag)
		}
		waitUntil(t, "the cancelled leg to end", func() bool { return tr.ActiveLegs() == 0 && tr.ports.InUse() == 0 })
	})
	t.Run("one To-tag across CANCEL over TCP too", func(t *testing.T) {
		conn, err := net.DialTCP("tcp", nil, net.TCPAddrFromAddrPort(tcpAddr))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		c := newTCPPeer(conn)
		local := c.LocalAddr().(*net.TCPAddr).AddrPort()
		callID, fromTag, branch := "tcpcancel-"+randToken(), randToken(), "z9hG4bK"+randToken()
		ruri := fmt.Sprintf("sip:15550001001@%s;transport=tcp", tcpAddr)
		fmt.Fprintf(c, "INVITE %s SIP/2.0\r\nVia: SIP/2.0/TCP %s;branch=%s\r\nMax-Forwards: 70\r\n"+
			"From: <sip:15557654321@%s>;tag=%s\r\nTo: <sip:15550001001@%s>\r\nCall-ID: %s\r\nCSeq: 1 INVITE\r\n"+
			"Contact: <sip:15557654321@%s;transport=tcp>\r\nContent-Type: application/sdp\r\nContent-Length: %d\r\n\r\n%s",
			ruri, local, branch, local.Addr(), fromTag, tcpAddr.Addr(), callID, local, len(goodOffer), goodOffer)
		ringing := readTCPResponse(t, c, "INVITE")
		for ringing.status != 180 {
			ringing = readTCPResponse(t, c, "INVITE")
		}
		tag := tagOf(ringing.headers["to"])
		fmt.Fprintf(c, "CANCEL %s SIP/2.0\r\nVia: SIP/2.0/TCP %s;branch=%s\r\nMax-Forwards: 70\r\n"+
			"From: <sip:15557654321@%s>;tag=%s\r\nTo: <sip:15550001001@%s>\r\nCall-ID: %s\r\nCSeq: 1 CANCEL\r\nContent-Length: 0\r\n\r\n",
			ruri, local, branch, local.Addr(), fromTag, tcpAddr.Addr(), callID)
		okCancel := readTCPResponse(t, c, "CANCEL")
		terminated := readTCPResponse(t, c, "INVITE")
		if okCancel.status != 200 || terminated.status != 487 {
			t.Fatalf("CANCEL got %d, INVITE got %d; want 200 and 487", okCancel.status, terminated.status)
		}
		if a, b := tagOf(okCancel.headers["to"]), tagOf(terminated.headers["to"]); a != tag || b != tag {
			t.Errorf("To-tags: 180 %q, 200 to CANCEL %q, 487 %q; want one", tag, a, b)
		}
	})
	t.Run("Contact says transport=tcp on a TCP dialog", func(t *testing.T) {
		c, err := net.DialTCP("tcp", nil, net.TCPAddrFromAddrPort(tcpAddr))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		local := c.LocalAddr().(*net.TCPAddr).AddrPort()
		fmt.Fprintf(c, "INVITE sip:15550001001@%s;transport=tcp SIP/2.0\r\nVia: SIP/2.0/TCP %s;branch=z9hG4bK%s\r\nMax-Forwards: 70\r\n"+
			"From: <sip:15557654321@%s>;tag=%s\r\nTo: <sip:15550001001@%s>\r\nCall-ID: tcp-%s\r\nCSeq: 1 INVITE\r\n"+
			"Contact: <sip:15557654321@%s;transport=tcp>\r\nContent-Type: application/sdp\r\nContent-Length: %d\r\n\r\n%s",
			tcpAddr, local, randToken(), local.Addr(), randToken(), tcpAddr.Addr(), randToken(), local, len(goodOffer), goodOffer)
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		br := bufio.NewReader(c)
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				t.Fatalf("no 180 over TCP: %v", err)
			}
			if strings.HasPrefix(line, "SIP/2.0 180") {
				break
			}
		}
		for {
			line, err := br.ReadString('\n')
			if err != nil || line == "\r\n" {
				t.Fatal("180 over TCP without Contact")
			}
			if k, v, _ := strings.Cut(line, ":"); strings.EqualFold(k, "Contact") || strings.EqualFold(k, "m") {
				if !strings.Contains(v, "transport=tcp") {
					t.Fatalf("Contact over TCP: %q, want transport=tcp", v)
				}
				break
			}
		}
	})
}

// readUntil reads responses until done says so (5 s at most).
func (p *sipPeer) readUntil(done func(sipRes) bool) []sipRes {
	p.t.Helper()
	var out []sipRes
	buf := make([]byte, 65536)
	deadline := time.Now().Add(5 * time.Second)
	for {
		_ = p.conn.SetReadDeadline(deadline)
		n, err := p.conn.Read(buf)
		if err != nil {
			p.t.Fatalf("waiting for responses: %v (got %d)", err, len(out))
		}
		r, err := parseResponse(buf[:n])
		if err != nil {
			continue
		}
		out = append(out, r)
		if done(r) {
			return out
		}
	}
}

// Outbound INVITEs carry rport, the tenant's display name and number in
// From, and P-Asserted-Identity.
func TestOutboundIdentityHeaders(t *testing.T) {
	quietSIPLogs(t)
	carrier, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer carrier.Close()
	tr, _, _ := startTrunksWith(t, &refuseAll{}, func(c *Config) {
		c.Trunks[0].Address = carrier.LocalAddr().String()
		c.Trunks[0].CallerID = "+15550001000"
		c.Trunks[0].CallerName = "Acme \"Support\"\r\nX-Evil: 1"
	})
	leg, err := tr.Dial(context.Background(), cti.DialRequest{TenantID: "t", CallID: "c1", From: "1001", To: "15559990000"})
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 65536)
	_ = carrier.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, src, err := carrier.ReadFromUDPAddrPort(buf)
	if err != nil {
		t.Fatal(err)
	}
	invite := string(buf[:n])
	via := headerOf(invite, "via")
	from := headerOf(invite, "from")
	pai := headerOf(invite, "p-asserted-identity")
	if !strings.Contains(via, ";rport") {
		t.Errorf("Via %q has no rport", via)
	}
	const want = `"Acme SupportX-Evil: 1" <sip:+15550001000@`
	if !strings.HasPrefix(from, want) || !strings.HasPrefix(pai, want) {
		t.Errorf("From %q, P-Asserted-Identity %q; want both to start %s", from, pai, want)
	}
	if strings.Contains(invite, "\r\nX-Evil") {
		t.Error("the display name injected a header")
	}
	// Refuse the call so the leg ends.
	var b strings.Builder
	b.WriteString("SIP/2.0 603 Decline\r\n")
	for _, h := range []string{"via", "from", "to", "call-id", "cseq"} {
		fmt.Fprintf(&b, "%s: %s\r\n", h, headerOf(invite, h))
	}
	b.WriteString("Content-Length: 0\r\n\r\n")
	if _, err := carrier.WriteToUDPAddrPort([]byte(strings.Replace(b.String(), "\r\nto: "+headerOf(invite, "to"), "\r\nto: "+headerOf(invite, "to")+";tag=x", 1)), src); err != nil {
		t.Fatal(err)
	}
	select {
	case <-leg.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("declined call did not end")
	}
}

// A TCP connection that carried a call's INVITE stays open while the call
// lasts, however quiet: the call's BYE must be able to use it.
func TestIdleTCPKeptWhileItsCallLasts(t *testing.T) {
	quietSIPLogs(t)
	h := &answerAll{}
	tr, _, tcpAddr := startTrunksWith(t, h, func(c *Config) { c.TCPIdleTimeout = 200 * time.Millisecond })
	conn, err := net.DialTCP("tcp", nil, net.TCPAddrFromAddrPort(tcpAddr))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	c := newTCPPeer(conn)
	local := c.LocalAddr().(*net.TCPAddr).AddrPort()
	callID, fromTag := "tcpcall-"+randToken(), randToken()
	fmt.Fprintf(c, "INVITE sip:15550001001@%s;transport=tcp SIP/2.0\r\nVia: SIP/2.0/TCP %s;branch=z9hG4bK%s\r\nMax-Forwards: 70\r\n"+
		"From: <sip:15557654321@%s>;tag=%s\r\nTo: <sip:15550001001@%s>\r\nCall-ID: %s\r\nCSeq: 1 INVITE\r\n"+
		"Contact: <sip:15557654321@%s;transport=tcp>\r\nContent-Type: application/sdp\r\nContent-Length: %d\r\n\r\n%s",
		tcpAddr, local, randToken(), local.Addr(), fromTag, tcpAddr.Addr(), callID, local, len(goodOffer), goodOffer)
	ok := readTCPResponse(t, c, "INVITE")
	for ok.status < 200 {
		ok = readTCPResponse(t, c, "INVITE")
	}
	if ok.status != 200 {
		t.Fatalf("INVITE over TCP: %d", ok.status)
	}
	to := ok.headers["to"]
	fmt.Fprintf(c, "ACK sip:15550001001@%s;transport=tcp SIP/2.0\r\nVia: SIP/2.0/TCP %s;branch=z9hG4bK%s\r\nMax-Forwards: 70\r\n"+
		"From: <sip:15557654321@%s>;tag=%s\r\nTo: %s\r\nCall-ID: %s\r\nCSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n",
		tcpAddr, local, randToken(), local.Addr(), fromTag, to, callID)
	// Five idle timeouts of silence; the connection must survive them.
	time.Sleep(time.Second)
	if n := tr.OpenTCPConns(); n != 1 {
		t.Fatalf("%d TCP connections open during the call, want 1", n)
	}
	fmt.Fprintf(c, "BYE sip:15550001001@%s;transport=tcp SIP/2.0\r\nVia: SIP/2.0/TCP %s;branch=z9hG4bK%s\r\nMax-Forwards: 70\r\n"+
		"From: <sip:15557654321@%s>;tag=%s\r\nTo: %s\r\nCall-ID: %s\r\nCSeq: 2 BYE\r\nContent-Length: 0\r\n\r\n",
		tcpAddr, local, randToken(), local.Addr(), fromTag, to, callID)
	if res := readTCPResponse(t, c, "BYE"); res.status != 200 {
		t.Fatalf("BYE over the kept connection: %d", res.status)
	}
	_ = h.leg(t)
	// With the call over, the connection goes like any idle one.
	waitUntil(t, "the connection to be reaped after the call", func() bool { return tr.OpenTCPConns() == 0 })
}

// BenchmarkReadFilterInvite measures what the UDP guard adds to each
// INVITE (limiter, a second parse, the checks), for make bench.
func BenchmarkReadFilterInvite(b *testing.B) {
	tr, err := New(Config{
		Trunks:     []TrunkConfig{{Name: "carrier", Address: "127.0.0.1:5999", AllowFrom: []string{"127.0.0.1/32"}}},
		MediaIP:    netip.MustParseAddr("127.0.0.1"),
		RateLimits: RateLimits{InvitePerSecond: -1},
	}, &refuseAll{}, slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { tr.Close() })
	p := &sipPeer{t: b, server: netip.MustParseAddrPort("127.0.0.1:5060")}
	p.conn, err = net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		b.Fatal(err)
	}
	defer p.conn.Close()
	msg := p.build(&sipReq{method: "INVITE", callID: "bench", extra: sdpHeader, body: goodOffer})
	props := sip.TransportReadProps{Transport: "UDP", RemoteAddr: p.conn.LocalAddr()}
	b.ReportAllocs()
	for b.Loop() {
		if out, _ := tr.readFilter(props, msg); len(out) == 0 {
			b.Fatal("a valid INVITE was filtered out")
		}
	}
}

// Over TCP the limits apply in the handlers, with the same answers.
func TestRateLimitOverTCP(t *testing.T) {
	quietSIPLogs(t)
	_, _, tcpAddr := startTrunksWith(t, &refuseAll{}, func(c *Config) {
		c.RateLimits = RateLimits{OptionsPerSecond: 0.5, OptionsBurst: 2}
	})
	conn, err := net.DialTCP("tcp", nil, net.TCPAddrFromAddrPort(tcpAddr))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	c := newTCPPeer(conn)
	local := c.LocalAddr().(*net.TCPAddr).AddrPort()
	for i := range 6 {
		fmt.Fprintf(c, "OPTIONS sip:x@%s;transport=tcp SIP/2.0\r\nVia: SIP/2.0/TCP %s;branch=z9hG4bK%s\r\nMax-Forwards: 70\r\n"+
			"From: <sip:probe@%s>;tag=%s\r\nTo: <sip:x@%s>\r\nCall-ID: tcplimit-%d\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n",
			tcpAddr, local, randToken(), local.Addr(), randToken(), tcpAddr.Addr(), i)
	}
	var ok, busy int
	for ok+busy < 3 {
		switch res := readTCPResponse(t, c, "OPTIONS"); res.status {
		case 200:
			ok++
		case 503:
			busy++
		default:
			t.Fatalf("unexpected %d", res.status)
		}
	}
	// Nothing more comes: the rest was dropped.
	_ = c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	if line, err := c.br.ReadString('\n'); err == nil {
		t.Fatalf("more than the burst and one 503 answered: %q", line)
	}
	if ok != 2 || busy != 1 {
		t.Fatalf("%d answered 200 and %d 503, want 2 and 1", ok, busy)
	}
}
