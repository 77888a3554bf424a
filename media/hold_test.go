package media_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/ringbridge/ringbridge/cti"
)

// A carrier that sends its INVITE without SDP (late offer) gets our offer
// in the 200 OK and answers in the ACK; the call is heard both ways. A
// session-refresh re-INVITE without SDP keeps it going. Then hold, from
// either side: when the carrier holds, we answer recvonly, stop sending,
// and the agent is told; when the agent holds, the carrier keeps getting
// keep-alive packets; after each, audio flows both ways again.
func TestLateOfferRefreshAndHoldBothWays(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	a := h.signIn("1001", agentTone)
	c := newRawCarrier(t, h.sipAddr, carrierTone)

	branch := c.startInvite(didAgent1, "")
	ring := a.waitCall(cti.CallRinging)
	// Answer returns once our 200 OK is acknowledged.
	answerErr := make(chan error, 1)
	go func() { answerErr <- a.sess.Answer(ring.ID) }()
	ok := c.answered(branch)
	if !strings.Contains(ok, "m=audio ") || !strings.Contains(ok, " RTP/AVP 0 8 101\r\n") || !strings.Contains(ok, "telephone-event/8000") {
		t.Fatalf("200 OK to a late offer does not offer PCMU, PCMA and telephone-event:\n%s", ok)
	}
	origin := sdpLine(ok, "o=")
	c.useSDP(ok)
	c.request("ACK", c.sdp(1, "sendrecv"))
	if err := <-answerErr; err != nil {
		t.Fatal(err)
	}
	c.sending.Store(true)
	a.waitCall(cti.CallActive)
	a.hears(carrierTone)
	c.hearsAgent(h.ctx)

	// Session refresh without SDP: our current SDP, unchanged version.
	code, res := c.final(c.request("INVITE", ""))
	if code != 200 || sdpLine(res, "o=") != origin || sdpDirection(res) != "sendrecv" {
		t.Fatalf("offerless re-INVITE: %d, o= %q (was %q), %s", code, sdpLine(res, "o="), origin, sdpDirection(res))
	}
	c.request("ACK", c.sdp(2, "sendrecv"))
	a.heard.Reset()
	c.heard.Reset()
	a.hears(carrierTone)
	c.hearsAgent(h.ctx)

	// The carrier holds: recvonly back, our RTP stops, the agent is told.
	code, res = c.final(c.request("INVITE", c.sdp(3, "sendonly")))
	if code != 200 || sdpDirection(res) != "recvonly" {
		t.Fatalf("hold re-INVITE: %d with a=%s, want 200 with a=recvonly", code, sdpDirection(res))
	}
	c.request("ACK", "")
	a.waitCallWhere("the far end holds", func(ci cti.CallInfo) bool { return ci.RemoteHeld })
	time.Sleep(100 * time.Millisecond) // packets already in flight
	if n, _ := c.rtpDuring(time.Second); n != 0 {
		t.Fatalf("%d RTP packets sent to a far end that holds the call", n)
	}
	a.heard.Reset()
	a.hears(carrierTone) // its music on hold still reaches the agent

	// The carrier resumes.
	code, res = c.final(c.request("INVITE", c.sdp(4, "sendrecv")))
	if code != 200 || sdpDirection(res) != "sendrecv" {
		t.Fatalf("resume re-INVITE: %d with a=%s", code, sdpDirection(res))
	}
	c.request("ACK", "")
	a.waitCallWhere("the far end resumes", func(ci cti.CallInfo) bool { return !ci.RemoteHeld })
	c.heard.Reset()
	c.hearsAgent(h.ctx)

	// The agent holds: the carrier gets a=sendonly, then keep-alives.
	c.answerReinvite(t, func() error { return a.sess.Hold(ring.ID, true) }, "sendonly", "recvonly")
	a.waitCall(cti.CallHeld)
	time.Sleep(100 * time.Millisecond)
	if n, silent := c.rtpDuring(2500 * time.Millisecond); n < 2 || silent != n {
		t.Fatalf("during our hold the carrier got %d RTP packets (%d silent), want at least 2 keep-alives of silence", n, silent)
	}
	c.answerReinvite(t, func() error { return a.sess.Hold(ring.ID, false) }, "sendrecv", "sendrecv")
	a.waitCall(cti.CallActive)
	a.heard.Reset()
	c.heard.Reset()
	a.hears(carrierTone)
	c.hearsAgent(h.ctx)

	// The agent hangs up: one BYE, answered.
	errc := make(chan error, 1)
	go func() { errc <- a.sess.Hangup(ring.ID) }()
	bye := c.next("BYE", func(m string) bool { return strings.HasPrefix(m, "BYE ") })
	c.respond(bye, 200, "")
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	a.waitCall(cti.CallEnded)
}

// answerReinvite runs do (which makes ringbridge send a re-INVITE), checks
// the offered direction and answers with ours.
func (c *rawCarrier) answerReinvite(t *testing.T, do func() error, wantOffer, answer string) {
	t.Helper()
	errc := make(chan error, 1)
	go func() { errc <- do() }()
	inv := c.next("re-INVITE", func(m string) bool { return strings.HasPrefix(m, "INVITE ") })
	if got := sdpDirection(inv); got != wantOffer {
		t.Fatalf("re-INVITE offers a=%s, want a=%s", got, wantOffer)
	}
	c.respond(inv, 200, c.sdp(9, answer))
	c.next("ACK", func(m string) bool { return strings.HasPrefix(m, "ACK ") })
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}

func (c *rawCarrier) hearsAgent(ctx context.Context) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := c.heard.WaitFor(ctx, agentTone); err != nil {
		c.t.Fatalf("carrier does not hear the agent: %v", err)
	}
}

// sdpLine returns the first SDP line with prefix in a message.
func sdpLine(msg, prefix string) string {
	_, body, _ := strings.Cut(msg, "\r\n\r\n")
	for _, l := range strings.Split(body, "\r\n") {
		if strings.HasPrefix(l, prefix) {
			return l
		}
	}
	return ""
}
