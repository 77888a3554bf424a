package trunk

import "testing"

// A second dialog-creating INVITE with the Call-ID of a call still
// ringing (a proxy's spiral, a fork reaching us twice) gets 482; the
// first call goes on.
func TestSecondInviteOfALiveCallIsALoop(t *testing.T) {
	quietSIPLogs(t)
	tr, udpAddr, _ := startTrunks(t, ringOnly{})
	p := newSIPPeer(t, udpAddr, "127.0.0.1")
	id := "loop-" + randToken()
	p.send(sipReq{method: "INVITE", callID: id, extra: sdpHeader, body: goodOffer})
	p.readUntil(func(r sipRes) bool { return r.status == 180 })
	second := p.send(sipReq{method: "INVITE", callID: id, extra: sdpHeader, body: goodOffer})
	if res := p.final(second); res.status != 482 {
		t.Fatalf("second INVITE of a live call: %d %s, want 482", res.status, res.reason)
	}
	if n := tr.ActiveLegs(); n != 1 {
		t.Fatalf("%d legs after the loop, want the first call's", n)
	}
}
