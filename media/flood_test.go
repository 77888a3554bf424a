package media_test

import (
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/ringbridge/ringbridge/cti"
)

// A trunk's (spoofable) UDP address sends a few hundred INVITEs that are
// refused or malformed, and never acknowledges the final responses. Each
// refused INVITE's transaction lives on until Timer H, but none may hold an
// RTP port meanwhile, and a real call must still connect and be heard.
func TestRefusedUnacknowledgedInvitesHoldNoPorts(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	a := h.signIn("1001", agentTone)

	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	local := conn.LocalAddr().String()
	sdp := "v=0\r\no=x 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
	// Each kind is refused somewhere different: by cti's routing (no such
	// number; an offline agent's number), by the SDP check, by the dialog
	// layer (no Contact), by content type.
	kinds := []struct {
		number, extra, body string
		want                int
	}{
		{"15559999999", "Content-Type: application/sdp\r\n", sdp, 404},
		{didAgent2, "Content-Type: application/sdp\r\n", sdp, 480},
		{didAgent2, "", "", 480}, // late offer, refused by routing
		{"15559999999", "Content-Type: application/sdp\r\n", "v=0\r\nm=audio zero RTP/AVP 0\r\n", 400},
		{"15559999999", "Content-Type: text/plain\r\n", "hello", 415},
	}
	const n, batch = 300, 30
	want := map[string]int{}
	got := map[string]int{}
	buf := make([]byte, 65536)
	msgs := map[string][]byte{}
	for i := range n {
		k := kinds[i%len(kinds)]
		callID := fmt.Sprintf("flood-%d@test", i)
		want[callID] = k.want
		contact := fmt.Sprintf("Contact: <sip:caller@%s>\r\n", local)
		if i%7 == 6 {
			contact = ""       // the dialog layer refuses an INVITE without Contact
			if k.want != 415 { // the content type is checked first
				want[callID] = 400
			}
		}
		msgs[callID] = []byte(fmt.Sprintf("INVITE sip:%s@%s SIP/2.0\r\nVia: SIP/2.0/UDP %s;branch=z9hG4bKflood%d;rport\r\nMax-Forwards: 70\r\n"+
			"From: <sip:%s@127.0.0.1>;tag=f%d\r\nTo: <sip:%s@127.0.0.1>\r\nCall-ID: %s\r\nCSeq: 1 INVITE\r\n%s%sContent-Length: %d\r\n\r\n%s",
			k.number, h.sipAddr, local, i, callerNum, i, k.number, callID, contact, k.extra, len(k.body), k.body))
		if (i+1)%batch != 0 {
			continue
		}
		// Like a UAC, retransmit what is unanswered until the final
		// responses (themselves retransmitted: we never ACK) are in.
		deadline := time.Now().Add(10 * time.Second)
		for len(got) < i+1 && time.Now().Before(deadline) {
			for id, m := range msgs {
				if _, ok := got[id]; !ok {
					if _, err := conn.WriteToUDP(m, net.UDPAddrFromAddrPort(h.sipAddr)); err != nil {
						t.Fatal(err)
					}
				}
			}
			_ = conn.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
			for {
				m, err := conn.Read(buf)
				if err != nil {
					break
				}
				res := string(buf[:m])
				var code int
				if _, err := fmt.Sscanf(res, "SIP/2.0 %d", &code); err != nil || code < 200 {
					continue
				}
				got[headerValue(res, "Call-ID")] = code
			}
		}
	}
	if len(got) != n {
		t.Fatalf("%d of %d INVITEs got a final response", len(got), n)
	}
	for id, code := range got {
		if code != want[id] {
			t.Errorf("%s: got %d, want %d", id, code, want[id])
		}
	}
	// The transactions are still waiting for ACKs (Timer H is 32 s), yet
	// no port was ever taken.
	if inUse, allocs := h.trunks.RTPPorts(); inUse != 0 || allocs != 0 {
		t.Fatalf("after %d refused INVITEs: %d RTP port pairs in use, %d allocated; want none", n, inUse, allocs)
	}

	// A real call still connects, takes one pair, and is heard both ways.
	ring, far := h.answerInbound(a, didAgent1)
	a.waitCall(cti.CallActive)
	far.hears(t, h.ctx, agentTone)
	a.hears(carrierTone)
	if inUse, allocs := h.trunks.RTPPorts(); inUse != 1 || allocs != 1 {
		t.Fatalf("during the real call: %d pairs in use, %d allocated; want 1 and 1", inUse, allocs)
	}
	if err := a.sess.Hangup(ring.ID); err != nil {
		t.Fatal(err)
	}
	waitDone(t, far.call)
	deadline := time.Now().Add(5 * time.Second)
	for {
		inUse, _ := h.trunks.RTPPorts()
		if inUse == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d RTP port pairs still in use after hangup", inUse)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// headerValue returns the first value of a header in a raw message.
func headerValue(msg, name string) string {
	for _, line := range strings.Split(msg, "\r\n") {
		k, v, ok := strings.Cut(line, ":")
		if ok && strings.EqualFold(strings.TrimSpace(k), name) {
			return strings.TrimSpace(v)
		}
	}
	return ""
}
