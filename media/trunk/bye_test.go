package trunk

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ringbridge/ringbridge/cti"
)

// answerAll is a cti side that answers every call at once.
type answerAll struct {
	mu   sync.Mutex
	legs []cti.InboundLeg
}

func (h *answerAll) InboundCall(_ context.Context, c cti.InboundCall) error {
	h.mu.Lock()
	h.legs = append(h.legs, c.Leg)
	h.mu.Unlock()
	go func() { _ = c.Leg.Answer(context.Background()) }()
	return nil
}

func (h *answerAll) leg(t *testing.T) cti.InboundLeg {
	t.Helper()
	waitUntil(t, "cti to get the call", func() bool {
		h.mu.Lock()
		defer h.mu.Unlock()
		return len(h.legs) > 0
	})
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.legs[len(h.legs)-1]
}

// call has p place a call that is answered and acknowledged; it returns
// the INVITE and the 200 OK.
func (p *sipPeer) call(body string, extra ...string) (sipReq, sipRes) {
	p.t.Helper()
	hdrs := extra
	if body != "" {
		hdrs = append(hdrs, sdpHeader...)
	}
	req := p.send(sipReq{method: "INVITE", callID: "call-" + randToken(), extra: hdrs, body: body})
	res := p.final(req)
	if res.status != 200 {
		p.t.Fatalf("INVITE answered %d %s", res.status, res.reason)
	}
	return req, res
}

// ackOK acknowledges a 2xx (a new transaction, RFC 3261 §13.2.2.4),
// optionally carrying an SDP answer.
func (p *sipPeer) ackOK(req sipReq, res sipRes, body string) {
	p.t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "ACK %s SIP/2.0\r\n", req.ruri)
	fmt.Fprintf(&b, "Via: SIP/2.0/UDP %s;branch=z9hG4bK%s;rport\r\n", p.local(), randToken())
	b.WriteString("Max-Forwards: 70\r\n")
	fmt.Fprintf(&b, "From: \"Caller\" <sip:15557654321@%s>;tag=%s\r\n", p.local().Addr(), req.fromTag)
	fmt.Fprintf(&b, "To: %s\r\nCall-ID: %s\r\nCSeq: 1 ACK\r\n", res.headers["to"], req.callID)
	if body != "" {
		b.WriteString("Content-Type: application/sdp\r\n")
	}
	fmt.Fprintf(&b, "Content-Length: %d\r\n\r\n%s", len(body), body)
	p.sendRaw([]byte(b.String()))
}

// A far end that stops sending RTP and then stops answering altogether
// gets one BYE transaction (retransmitted by the transaction layer), not
// one per watchdog tick.
func TestSilentFarEndGetsOneBye(t *testing.T) {
	quietSIPLogs(t)
	h := &answerAll{}
	tr, udpAddr, _ := startTrunksWith(t, h, func(c *Config) { c.MediaTimeout = 500 * time.Millisecond })
	p := newSIPPeer(t, udpAddr, "127.0.0.1")
	req, res := p.call(goodOffer)
	p.ackOK(req, res, "")
	leg := h.leg(t)

	// Count BYE requests, never answering, until the leg has ended and
	// then some: a second transaction would have a new branch.
	branches := map[string]int{}
	buf := make([]byte, 65536)
	var endedAt time.Time
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if endedAt.IsZero() && tr.ActiveLegs() == 0 {
			endedAt = time.Now()
		}
		if !endedAt.IsZero() && time.Since(endedAt) > 2*time.Second {
			break
		}
		_ = p.conn.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
		n, err := p.conn.Read(buf)
		if err != nil {
			continue
		}
		msg := string(buf[:n])
		if !strings.HasPrefix(msg, "BYE ") {
			continue
		}
		via := headerOf(msg, "via")
		_, branch, _ := strings.Cut(via, "branch=")
		branch, _, _ = strings.Cut(branch, ";")
		branches[branch]++
	}
	if endedAt.IsZero() {
		t.Fatal("the silent call was never hung up")
	}
	if len(branches) != 1 {
		t.Fatalf("%d BYE transactions sent (%v), want exactly one", len(branches), branches)
	}
	for _, n := range branches {
		if n < 2 {
			t.Errorf("the BYE was sent %d times; over UDP the transaction layer retransmits it", n)
		}
	}
	if r := leg.EndReason(); r != cti.EndMediaTimeout {
		t.Errorf("end reason %q, want %q", r, cti.EndMediaTimeout)
	}
	// Hangup after the end is a no-op, not another BYE.
	if err := leg.Hangup(context.Background()); err != nil {
		t.Errorf("second hangup: %v", err)
	}
}

// headerOf returns the first value of a header in a raw message
// (lower-case full name; compact forms understood).
func headerOf(msg, name string) string {
	head, _, _ := strings.Cut(msg, "\r\n\r\n")
	res, err := parseResponse([]byte("SIP/2.0 200 OK\r\n" + strings.SplitN(head, "\r\n", 2)[1]))
	if err != nil {
		return ""
	}
	return res.headers[name]
}
