package media_test

import (
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/ringbridge/ringbridge/cti"
	"github.com/ringbridge/ringbridge/media/mediatest"
)

// rawCarrier plays a carrier from raw sockets, to send what the Phone
// never does (offerless INVITEs and re-INVITEs, holds of its own) and to
// see every byte ringbridge sends back.
type rawCarrier struct {
	t      *testing.T
	sip    *net.UDPConn
	rtp    *net.UDPConn
	server netip.AddrPort
	heard  *mediatest.ToneDetector
	msgs   chan string

	rtpIn   atomic.Uint64 // RTP packets received
	silence atomic.Uint64 // of which all-silence audio
	sending atomic.Bool
	remote  atomic.Pointer[netip.AddrPort]

	callID, fromTag, toTag, ruri string
	cseq                         int
	done                         chan struct{}
	wg                           sync.WaitGroup
}

func newRawCarrier(t *testing.T, server netip.AddrPort, toneHz float64) *rawCarrier {
	t.Helper()
	c := &rawCarrier{t: t, server: server, heard: mediatest.NewToneDetector(mediatest.ToneDetectorConfig{}),
		msgs: make(chan string, 64), done: make(chan struct{}), callID: "raw-" + strconv.FormatInt(time.Now().UnixNano(), 36),
		fromTag: "rawtag"}
	var err error
	if c.sip, err = net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)}); err != nil {
		t.Fatal(err)
	}
	if c.rtp, err = net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)}); err != nil {
		t.Fatal(err)
	}
	c.wg.Add(3)
	go c.readSIP()
	go c.readRTP()
	go c.sendRTP(toneHz)
	t.Cleanup(func() {
		close(c.done)
		c.sip.Close()
		c.rtp.Close()
		c.wg.Wait()
	})
	return c
}

func (c *rawCarrier) readSIP() {
	defer c.wg.Done()
	buf := make([]byte, 65536)
	for {
		n, err := c.sip.Read(buf)
		if err != nil {
			return
		}
		select {
		case c.msgs <- string(buf[:n]):
		case <-c.done:
			return
		}
	}
}

func (c *rawCarrier) readRTP() {
	defer c.wg.Done()
	buf := make([]byte, 1500)
	for {
		n, err := c.rtp.Read(buf)
		if err != nil {
			return
		}
		var p rtp.Packet
		if p.Unmarshal(buf[:n]) != nil || p.PayloadType != 0 {
			continue
		}
		c.rtpIn.Add(1)
		if !slices.ContainsFunc(p.Payload, func(b byte) bool { return b != 0xff }) { // μ-law silence
			c.silence.Add(1)
		}
		c.heard.WriteUlaw(p.Payload)
	}
}

func (c *rawCarrier) sendRTP(toneHz float64) {
	defer c.wg.Done()
	gen := mediatest.NewToneGenerator(toneHz, 0.3, 8000)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	pkt := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 0, SSRC: 0x1234}, Payload: make([]byte, 160)}
	for {
		select {
		case <-c.done:
			return
		case <-tick.C:
		}
		dst := c.remote.Load()
		if dst == nil || !c.sending.Load() {
			continue
		}
		gen.NextPCMU(pkt.Payload)
		pkt.SequenceNumber++
		pkt.Timestamp += 160
		b, _ := pkt.Marshal()
		_, _ = c.rtp.WriteToUDPAddrPort(b, *dst)
	}
}

func (c *rawCarrier) local() netip.AddrPort { return c.sip.LocalAddr().(*net.UDPAddr).AddrPort() }

// sdp is our offer or answer with the given direction.
func (c *rawCarrier) sdp(version int, dir string) string {
	port := c.rtp.LocalAddr().(*net.UDPAddr).Port
	return fmt.Sprintf("v=0\r\no=raw 7 %d IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"+
		"m=audio %d RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\na=%s\r\n", version, port, dir)
}

// request sends a request in our dialog and returns its branch.
func (c *rawCarrier) request(method, body string) string {
	c.t.Helper()
	branch := "z9hG4bK" + strconv.FormatInt(time.Now().UnixNano(), 36)
	if method != "ACK" {
		c.cseq++
	}
	to := fmt.Sprintf("<%s>", c.ruri)
	if c.toTag != "" {
		to += ";tag=" + c.toTag
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s SIP/2.0\r\nVia: SIP/2.0/UDP %s;branch=%s;rport\r\nMax-Forwards: 70\r\n", method, c.ruri, c.local(), branch)
	fmt.Fprintf(&b, "From: <sip:%s@127.0.0.1>;tag=%s\r\nTo: %s\r\nCall-ID: %s\r\nCSeq: %d %s\r\n", callerNum, c.fromTag, to, c.callID, c.cseq, method)
	fmt.Fprintf(&b, "Contact: <sip:carrier@%s>\r\n", c.local())
	if body != "" {
		b.WriteString("Content-Type: application/sdp\r\n")
	}
	fmt.Fprintf(&b, "Content-Length: %d\r\n\r\n%s", len(body), body)
	if _, err := c.sip.WriteToUDPAddrPort([]byte(b.String()), c.server); err != nil {
		c.t.Fatal(err)
	}
	return branch
}

// next returns the next SIP message matching pred.
func (c *rawCarrier) next(what string, pred func(string) bool) string {
	c.t.Helper()
	timeout := time.After(15 * time.Second)
	for {
		select {
		case m := <-c.msgs:
			if pred(m) {
				return m
			}
		case <-timeout:
			c.t.Fatalf("carrier: no %s", what)
			return ""
		}
	}
}

// final waits for the final response to the transaction with branch.
func (c *rawCarrier) final(branch string) (int, string) {
	c.t.Helper()
	m := c.next("final response", func(m string) bool {
		var code int
		_, err := fmt.Sscanf(m, "SIP/2.0 %d", &code)
		return err == nil && code >= 200 && strings.Contains(m, "branch="+branch)
	})
	var code int
	_, _ = fmt.Sscanf(m, "SIP/2.0 %d", &code)
	return code, m
}

// startInvite calls number (body "" is a late offer); answered waits
// for the 200 OK.
func (c *rawCarrier) startInvite(number, body string) string {
	c.ruri = fmt.Sprintf("sip:%s@%s", number, c.server)
	return c.request("INVITE", body)
}

func (c *rawCarrier) answered(branch string) string {
	c.t.Helper()
	code, res := c.final(branch)
	if code != 200 {
		c.t.Fatalf("INVITE answered %d:\n%s", code, res)
	}
	to := headerValue(res, "To")
	_, c.toTag, _ = strings.Cut(to, "tag=")
	c.toTag, _, _ = strings.Cut(c.toTag, ";")
	return res
}

// useAnswer points our RTP at the media in a message's SDP.
func (c *rawCarrier) useSDP(msg string) {
	c.t.Helper()
	_, body, _ := strings.Cut(msg, "\r\n\r\n")
	var ip string
	var port int
	for _, l := range strings.Split(body, "\r\n") {
		switch {
		case strings.HasPrefix(l, "c=IN IP4 "):
			ip = strings.TrimPrefix(l, "c=IN IP4 ")
		case strings.HasPrefix(l, "m=audio "):
			port, _ = strconv.Atoi(strings.Fields(l)[1])
		}
	}
	ap, err := netip.ParseAddrPort(fmt.Sprintf("%s:%d", ip, port))
	if err != nil {
		c.t.Fatalf("no usable media in SDP:\n%s", body)
	}
	c.remote.Store(&ap)
}

// sdpDirection is the a= direction of a message's SDP.
func sdpDirection(msg string) string {
	for _, d := range []string{"sendrecv", "sendonly", "recvonly", "inactive"} {
		if strings.Contains(msg, "\r\na="+d+"\r\n") {
			return d
		}
	}
	return "sendrecv"
}

// respond answers a request ringbridge sent us.
func (c *rawCarrier) respond(req string, status int, body string) {
	c.t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "SIP/2.0 %d OK\r\n", status)
	for _, h := range []string{"Via", "From", "To", "Call-ID", "CSeq"} {
		fmt.Fprintf(&b, "%s: %s\r\n", h, headerValue(req, h))
	}
	fmt.Fprintf(&b, "Contact: <sip:carrier@%s>\r\n", c.local())
	if body != "" {
		b.WriteString("Content-Type: application/sdp\r\n")
	}
	fmt.Fprintf(&b, "Content-Length: %d\r\n\r\n%s", len(body), body)
	if _, err := c.sip.WriteToUDPAddrPort([]byte(b.String()), c.server); err != nil {
		c.t.Fatal(err)
	}
}

// quiet reports whether no RTP arrived over d.
func (c *rawCarrier) rtpDuring(d time.Duration) (packets, silent uint64) {
	p0, s0 := c.rtpIn.Load(), c.silence.Load()
	time.Sleep(d)
	return c.rtpIn.Load() - p0, c.silence.Load() - s0
}

// waitCallWhere waits for a call event satisfying pred.
func (a *agent) waitCallWhere(what string, pred func(cti.CallInfo) bool) cti.CallInfo {
	a.t.Helper()
	timeout := time.After(15 * time.Second)
	for {
		select {
		case ci := <-a.calls:
			if pred(ci) {
				return ci
			}
		case <-timeout:
			a.t.Fatalf("agent %s: no call event where %s", a.ext, what)
			return cti.CallInfo{}
		}
	}
}
