package trunk

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/ringbridge/ringbridge/cti"
)

// answered is a cti side that answers every call and hands over the leg
// once Answer has returned, as cti does before it may hold or hang up.
type answered chan cti.InboundLeg

func (h answered) InboundCall(_ context.Context, c cti.InboundCall) error {
	go func() {
		if c.Leg.Answer(context.Background()) == nil {
			h <- c.Leg
		}
	}()
	return nil
}

// readRequest waits for a request of method on c and returns it raw.
func readRequest(t *testing.T, c *net.UDPConn, method string, within time.Duration) (string, netip.AddrPort) {
	t.Helper()
	buf := make([]byte, 65536)
	deadline := time.Now().Add(within)
	for {
		if err := c.SetReadDeadline(deadline); err != nil {
			t.Fatal(err)
		}
		n, from, err := c.ReadFromUDPAddrPort(buf)
		if err != nil {
			t.Fatalf("no %s at %v: %v", method, c.LocalAddr(), err)
		}
		if msg := string(buf[:n]); strings.HasPrefix(msg, method+" ") {
			return msg, from
		}
	}
}

// noRequest checks that c receives no request of method for d.
func noRequest(t *testing.T, c *net.UDPConn, method string, d time.Duration) {
	t.Helper()
	buf := make([]byte, 65536)
	deadline := time.Now().Add(d)
	for {
		if err := c.SetReadDeadline(deadline); err != nil {
			t.Fatal(err)
		}
		n, _, err := c.ReadFromUDPAddrPort(buf)
		if err != nil {
			return
		}
		if strings.HasPrefix(string(buf[:n]), method+" ") {
			t.Fatalf("%v received a %s it should not have", c.LocalAddr(), method)
		}
	}
}

// reply answers a raw request with status, echoing the headers a UAS must.
func reply(t *testing.T, c *net.UDPConn, to netip.AddrPort, req string, status int, body string) {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "SIP/2.0 %d OK\r\n", status)
	for _, h := range []string{"via", "from", "to", "call-id", "cseq"} {
		fmt.Fprintf(&b, "%s: %s\r\n", h, headerOf(req, h))
	}
	fmt.Fprintf(&b, "Contact: <sip:x@%s>\r\n", c.LocalAddr())
	if body != "" {
		b.WriteString("Content-Type: application/sdp\r\n")
	}
	fmt.Fprintf(&b, "Content-Length: %d\r\n\r\n%s", len(body), body)
	if _, err := c.WriteToUDPAddrPort([]byte(b.String()), to); err != nil {
		t.Fatal(err)
	}
}

// A trunk behind NAT announces its private address in Contact: by the
// trunk's inDialogTarget, hold (re-INVITE and ACK) and hang-up (BYE) go to
// where its packets come from, or to the Contact as RFC 3261 says.
func TestInDialogRequestsReachNATedTrunk(t *testing.T) {
	quietSIPLogs(t)
	elsewhere := func(t *testing.T) *net.UDPConn {
		// A reachable Contact other than the source: 127.0.0.2 is loopback too.
		c, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.MustParseAddrPort("127.0.0.2:0")))
		if err != nil {
			t.Skipf("no 127.0.0.2 on this machine: %v", err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	for _, tc := range []struct {
		mode      string
		private   bool // Contact: an unreachable private address, else a second loopback socket
		toContact bool // in-dialog requests go to the Contact, not the source
	}{
		{mode: "", private: true},                // auto: private Contact → source
		{mode: InDialogAuto, private: false},     // auto: loopback Contact ≠ source address → source
		{mode: InDialogSource, private: false},   // source whatever the Contact
		{mode: InDialogContact, toContact: true}, // RFC 3261
	} {
		name := fmt.Sprintf("%s/private=%v", tc.mode, tc.private)
		t.Run(name, func(t *testing.T) {
			h := make(answered, 1)
			_, udpAddr, _ := startTrunksWith(t, h, func(c *Config) {
				c.Trunks[0].AllowFrom = []string{"127.0.0.0/8"}
				c.Trunks[0].InDialogTarget = tc.mode
			})
			p := newSIPPeer(t, udpAddr, "127.0.0.1")
			var contactSock *net.UDPConn
			if tc.private {
				p.contact = "192.168.77.5:5060"
			} else {
				contactSock = elsewhere(t)
				p.contact = contactSock.LocalAddr().String()
			}
			want := p.conn
			if tc.toContact {
				want = contactSock
			}
			req, res := p.call(goodOffer)
			p.ackOK(req, res, "")
			var leg cti.InboundLeg
			select {
			case leg = <-h:
			case <-time.After(5 * time.Second):
				t.Fatal("the call was not answered")
			}

			// Hold: the re-INVITE and its ACK.
			held := make(chan error, 1)
			go func() { held <- leg.Hold(context.Background(), true) }()
			inv, from := readRequest(t, want, "INVITE", 5*time.Second)
			if !strings.Contains(inv, "a=sendonly") {
				t.Fatalf("hold re-INVITE without a=sendonly:\n%s", inv)
			}
			reply(t, want, from, inv, 200, offer("127.0.0.1", 40002, "0", "rtpmap:0 PCMU/8000", "recvonly"))
			readRequest(t, want, "ACK", 5*time.Second)
			if err := <-held; err != nil {
				t.Fatalf("hold: %v", err)
			}

			// Hang-up: the BYE, answered, so Hangup returns at once.
			hung := make(chan error, 1)
			start := time.Now()
			go func() { hung <- leg.Hangup(context.Background()) }()
			bye, from := readRequest(t, want, "BYE", 5*time.Second)
			reply(t, want, from, bye, 200, "")
			if err := <-hung; err != nil {
				t.Fatalf("hangup: %v", err)
			}
			if took := time.Since(start); took > 2*time.Second {
				t.Errorf("hang-up took %v: the BYE was not answered at once", took)
			}
			if contactSock != nil && want != contactSock {
				noRequest(t, contactSock, "BYE", 100*time.Millisecond)
			}
		})
	}
}

func TestUnroutableContact(t *testing.T) {
	for s, want := range map[string]bool{
		"10.1.2.3": true, "192.168.0.10": true, "172.16.5.5": true, "100.64.1.1": true,
		"127.0.0.1": true, "169.254.1.1": true, "0.0.0.0": true, "fd00::1": true, "fe80::1": true,
		"203.0.113.7": false, "8.8.8.8": false, "2001:db8::1": false, "::ffff:192.168.1.1": true,
	} {
		if got := unroutable(netip.MustParseAddr(s)); got != want {
			t.Errorf("unroutable(%s) = %v, want %v", s, got, want)
		}
	}
}

func TestTrunkConfigRefusesUnknownNATSettings(t *testing.T) {
	for _, tc := range []TrunkConfig{
		{Name: "a", Address: "127.0.0.1:5060", AllowFrom: []string{"127.0.0.1"}, InDialogTarget: "via"},
		{Name: "b", Address: "127.0.0.1:5060", AllowFrom: []string{"127.0.0.1"}, EarlyMedia: "both"},
	} {
		if _, err := parseTrunk(tc); err == nil {
			t.Errorf("%+v accepted", tc)
		}
	}
	for _, tc := range []TrunkConfig{
		{Name: "c", Address: "127.0.0.1:5060", AllowFrom: []string{"127.0.0.1"}, InDialogTarget: InDialogSource, EarlyMedia: EarlyMediaTwoWay},
		{Name: "d", Address: "127.0.0.1:5060", AllowFrom: []string{"127.0.0.1"}},
	} {
		if _, err := parseTrunk(tc); err != nil {
			t.Errorf("%+v refused: %v", tc, err)
		}
	}
}
