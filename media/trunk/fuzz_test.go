package trunk

import (
	"strings"
	"testing"
	"time"
)

// Fuzz targets of this package, run on their seeds by every go test and
// for longer by make fuzz (go test -run '^$' -fuzz <name> ./media/trunk):
//   - FuzzParseSDP (robust_test.go): SDP offers and answers, and the answer
//     we build from what we accept.
//   - FuzzSIPRequest: whole datagrams to the real SIP server.

// FuzzSIPRequest sends each input as a UDP datagram from a trunk address
// to the real server (the guard, sipgo's parser and transactions, our
// handlers), then checks every response it got says SIP/2.0 with a
// status we send, that the server still answers OPTIONS, and that no
// RTP port was taken (cti refuses every call here).
//
//	go test -run '^$' -fuzz FuzzSIPRequest -fuzztime 30s ./media/trunk
func FuzzSIPRequest(f *testing.F) {
	quietSIPLogs(f)
	tr, udpAddr, _ := startTrunks(f, &refuseAll{})
	seedPeer := newSIPPeer(f, udpAddr, "127.0.0.1")
	for _, r := range []sipReq{
		{method: "INVITE", callID: "f1", extra: sdpHeader, body: goodOffer},
		{method: "INVITE", callID: "f2"},
		{method: "INVITE", callID: "f3", extra: append([]string{"Require: 100rel"}, sdpHeader...), body: goodOffer},
		{method: "INVITE", callID: "f4", toTag: "x", extra: sdpHeader, body: brokenSDP},
		{method: "OPTIONS", callID: "f5"},
		{method: "CANCEL", callID: "f6"},
		{method: "BYE", callID: "f7", toTag: "y"},
		{method: "REGISTER", callID: "f8"},
		{method: "INFO", callID: "f9", toTag: "z", extra: []string{"Content-Type: application/dtmf-relay"}, body: "Signal=5\r\nDuration=160\r\n"},
		{method: "FOO", callID: "f10"},
	} {
		f.Add(seedPeer.build(&r))
	}
	f.Add([]byte("OPTIONS sip:x@127.0.0.1 SIP/7.0\r\nVia: SIP/7.0/UDP 127.0.0.1:9;branch=z9hG4bKa\r\nCall-ID: v\r\nCSeq: 1 OPTIONS\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:c@d>\r\n\r\n"))
	f.Add([]byte("INVITE <sip:x@127.0.0.1> SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bKb\r\nCall-ID: w\r\nCSeq: 1 INVITE\r\nFrom: <sip:a@b>;tag=1\r\nTo: \"unterminated <sip:c@d>\r\nContent-Length: 9999\r\n\r\nv=0\r\n"))
	f.Add([]byte("\r\n\r\n"))
	f.Add([]byte{})

	f.Fuzz(func(t *testing.T, data []byte) {
		p := newSIPPeer(t, udpAddr, "127.0.0.1")
		if len(data) > 0 {
			p.sendRaw(data)
		}
		probe := p.send(sipReq{method: "OPTIONS", callID: "probe-" + randToken()})
		buf := make([]byte, 65536)
		deadline := time.Now().Add(5 * time.Second)
		for {
			_ = p.conn.SetReadDeadline(deadline)
			n, err := p.conn.Read(buf)
			if err != nil {
				t.Fatalf("the server stopped answering OPTIONS after % q", data[:min(len(data), 200)])
			}
			res, err := parseResponse(buf[:n])
			if err != nil {
				t.Fatalf("not a SIP/2.0 response: %q (after % q)", buf[:min(n, 80)], data[:min(len(data), 200)])
			}
			if res.status < 100 || res.status > 699 {
				t.Fatalf("status %d", res.status)
			}
			if strings.ContainsAny(res.reason, "\r\n") {
				t.Fatalf("reason phrase %q", res.reason)
			}
			if strings.Contains(res.headers["via"], "branch="+probe.branch) && res.status >= 200 {
				if res.status != 200 {
					t.Fatalf("OPTIONS probe answered %d %s", res.status, res.reason)
				}
				if n := tr.ports.Allocations(); n != 0 {
					t.Fatalf("refused requests took %d RTP port pairs", n)
				}
				return
			}
		}
	})
}
