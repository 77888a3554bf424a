package rtpio

import (
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/pion/rtp"
)

// FuzzReaderDeliver feeds the RTP classifier whatever arrives on a leg's
// port. It must never panic, and only audio or telephone-event of the
// negotiated payload types may reach the sink, never longer than what
// arrived.
//
//	go test -run '^$' -fuzz FuzzReaderDeliver -fuzztime 20s ./media/rtpio
func FuzzReaderDeliver(f *testing.F) {
	for _, seed := range [][]byte{
		rtpPacket(f, rtp.Header{PayloadType: 8, SequenceNumber: 1, Timestamp: 160, SSRC: 9}, payloadOf(160, 7)),
		rtpPacket(f, rtp.Header{PayloadType: 101, SequenceNumber: 2, Timestamp: 320, SSRC: 9, Marker: true}, []byte{3, 10, 0, 160}),
		rtpPacket(f, rtp.Header{PayloadType: 101, SequenceNumber: 3, Timestamp: 320, SSRC: 9}, []byte{3, 0x8a, 3, 32}),
		rtpPacket(f, rtp.Header{PayloadType: 13, SequenceNumber: 4, Timestamp: 480, SSRC: 9}, []byte{40}),
		rtpPacket(f, rtp.Header{PayloadType: 8, Padding: true, PaddingSize: 4, SequenceNumber: 5, SSRC: 9, CSRC: []uint32{1, 2}}, payloadOf(20, 1)),
		append([]byte{0x90, 0x08, 0, 6, 0, 0, 3, 0xc0, 0, 0, 0, 9, 0xbe, 0xde, 0, 1, 0x10, 1, 0, 0}, payloadOf(160, 3)...), // one-byte header extension
		{0x80, 0x08, 0, 1}, // shorter than a header
		{0xA0, 0x08, 0, 1, 0, 0, 0, 0, 0, 0, 0, 9, 0xff}, // padding longer than the payload
		{0x00, 0x00},
		{},
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r := NewReader(pcmaWithEvents)
		var sink frameSink
		r.Sink.Store(&sink)
		r.Deliver(data)
		r.Deliver(data) // twice: the DTMF receiver keeps state
		for _, fr := range sink.got() {
			if fr.Codec != CodecPCMA && fr.Codec != CodecEvent {
				t.Fatalf("forwarded a %v frame", fr.Codec)
			}
			if len(fr.Payload) > len(data) {
				t.Fatalf("frame payload of %d bytes from a %d-byte packet", len(fr.Payload), len(data))
			}
			if fr.Header.PayloadType != 8 && fr.Header.PayloadType != 101 {
				t.Fatalf("forwarded payload type %d", fr.Header.PayloadType)
			}
		}
		if r.Received()+r.Dropped() < 2 {
			t.Fatalf("two packets, %d received and %d dropped", r.Received(), r.Dropped())
		}
	})
}

// FuzzUDPLegReadPath sends each input, as a stranger would, to a live
// leg's RTP and RTCP sockets over loopback. Whatever it was, the leg must
// keep running, and the far end's audio (latched first) must still be
// relayed afterwards: junk can neither crash the read loops nor steal
// the stream.
//
//	go test -run '^$' -fuzz FuzzUDPLegReadPath -fuzztime 20s ./media/rtpio
func FuzzUDPLegReadPath(f *testing.F) {
	f.Add(rtpPacket(f, rtp.Header{PayloadType: 8, SequenceNumber: 9, SSRC: 66}, payloadOf(160, 1)))
	f.Add([]byte{0x81, 0xc8, 0x00, 0x06, 1, 2, 3, 4}) // an RTCP sender report's start
	f.Add([]byte("not rtp at all"))
	f.Add(make([]byte, 1600))
	f.Add([]byte{})

	ports, err := NewPorts(netip.MustParseAddr("127.0.0.1"), 42000, 42999)
	if err != nil {
		f.Fatal(err)
	}
	a, b, err := ports.Allocate()
	if err != nil {
		f.Fatal(err)
	}
	leg := NewUDPLeg(a, b, ports, pcmaWithEvents)
	var sink frameSink
	leg.Sink.Store(&sink)
	leg.Start()
	f.Cleanup(leg.Close)
	far, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { far.Close() })
	stranger, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { stranger.Close() })
	rtpAddr := leg.LocalAddr()
	rtcpAddr := netip.AddrPortFrom(rtpAddr.Addr(), rtpAddr.Port()+1)
	leg.SetRemote(far.LocalAddr().(*net.UDPAddr).AddrPort())
	var seq uint16
	sendFar := func(t *testing.T) {
		seq++
		pkt := rtpPacket(t, rtp.Header{PayloadType: 8, SequenceNumber: seq, Timestamp: uint32(seq) * 160, SSRC: 77}, payloadOf(160, byte(seq)))
		if _, err := far.WriteToUDPAddrPort(pkt, rtpAddr); err != nil {
			t.Fatal(err)
		}
	}

	f.Fuzz(func(t *testing.T, data []byte) {
		before := len(sink.got())
		sendFar(t) // the far end latches (again a no-op after the first)
		_, _ = stranger.WriteToUDPAddrPort(data, rtpAddr)
		_, _ = stranger.WriteToUDPAddrPort(data, rtcpAddr)
		sendFar(t)
		deadline := time.Now().Add(2 * time.Second)
		for len(sink.got()) < before+2 {
			if time.Now().After(deadline) {
				t.Fatalf("the far end's audio stopped arriving after %d bytes of junk (%d of 2 frames)", len(data), len(sink.got())-before)
			}
			time.Sleep(time.Millisecond)
		}
		for _, fr := range sink.got()[before:] {
			if fr.Header.SSRC != 77 {
				t.Fatalf("a stranger's packet (SSRC %d) was relayed", fr.Header.SSRC)
			}
		}
	})
}
