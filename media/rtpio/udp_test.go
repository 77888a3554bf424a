package rtpio

import (
	"bytes"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
)

var pcmuWithEvents = Format{Codec: CodecPCMU, AudioPT: 0, EventPT: 101}

// newTestLeg allocates and starts a leg on loopback; it is closed when the
// test ends.
func newTestLeg(t testing.TB, f Format) (*UDPLeg, *Ports) {
	t.Helper()
	base := freeRange(t, 2)
	ports, err := NewPorts(loopback, base, base+1)
	if err != nil {
		t.Fatal(err)
	}
	a, b, err := ports.Allocate()
	if err != nil {
		t.Fatal(err)
	}
	l := NewUDPLeg(a, b, ports, f)
	l.Start()
	t.Cleanup(l.Close)
	return l, ports
}

// peer is a far-end socket on loopback.
func listenPeer(t testing.TB) *net.UDPConn {
	t.Helper()
	c, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(loopback, 0)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func addrOf(c *net.UDPConn) netip.AddrPort { return c.LocalAddr().(*net.UDPAddr).AddrPort() }

// readRTP reads one RTP packet from c or fails after a deadline.
func readRTP(t *testing.T, c *net.UDPConn) rtp.Packet {
	t.Helper()
	buf := make([]byte, MTU)
	if err := c.SetReadDeadline(time.Now().Add(3 * time.Second)); err != nil {
		t.Fatal(err)
	}
	n, err := c.Read(buf)
	if err != nil {
		t.Fatalf("reading at %v: %v", c.LocalAddr(), err)
	}
	var p rtp.Packet
	if err := p.Unmarshal(buf[:n]); err != nil {
		t.Fatalf("not RTP: %v", err)
	}
	return p
}

// silentFor checks that nothing arrives at c for a short while.
func silentFor(t *testing.T, c *net.UDPConn, d time.Duration) {
	t.Helper()
	buf := make([]byte, MTU)
	if err := c.SetReadDeadline(time.Now().Add(d)); err != nil {
		t.Fatal(err)
	}
	if n, err := c.Read(buf); err == nil {
		t.Fatalf("%v received %d unexpected bytes", c.LocalAddr(), n)
	}
}

func sendRTP(t *testing.T, from *net.UDPConn, to netip.AddrPort, seq uint16) {
	t.Helper()
	b := rtpPacket(t, rtp.Header{PayloadType: 0, SequenceNumber: seq, Timestamp: uint32(seq) * 160, SSRC: 0xFA12}, payloadOf(160, byte(seq)))
	if _, err := from.WriteToUDPAddrPort(b, to); err != nil {
		t.Fatal(err)
	}
}

func sendRaw(t *testing.T, from *net.UDPConn, to netip.AddrPort, b []byte) {
	t.Helper()
	if _, err := from.WriteToUDPAddrPort(b, to); err != nil {
		t.Fatal(err)
	}
}

func writeAudio(l *UDPLeg, seq uint16) {
	l.Writer.WriteFrame(audioFrame(CodecPCMU, 0, seq, uint32(seq)*160, payloadOf(160, 0)))
}

func remoteOf(t *testing.T, l *UDPLeg) netip.AddrPort {
	t.Helper()
	r, ok := l.Remote()
	if !ok {
		t.Fatal("leg has no remote")
	}
	return r
}

func TestUDPLegSymmetricLatch(t *testing.T) {
	l, _ := newTestLeg(t, pcmuWithEvents)
	var sink frameSink
	l.Reader.Sink.Store(&sink)
	if _, ok := l.Remote(); ok {
		t.Fatal("new leg already has a remote")
	}
	writeAudio(l, 1) // nowhere to send yet: dropped, not counted
	if l.Writer.Sent() != 0 {
		t.Fatalf("Sent %d without a remote", l.Writer.Sent())
	}

	sdpAddr := listenPeer(t) // what the far end's SDP says
	source := listenPeer(t)  // where its RTP really comes from (NAT)
	stranger := listenPeer(t)
	l.SetRemote(addrOf(sdpAddr))
	if got := remoteOf(t, l); got != addrOf(sdpAddr) {
		t.Fatalf("Remote %v, want the SDP address %v", got, addrOf(sdpAddr))
	}

	// Before the far end sends, we send to the SDP address.
	writeAudio(l, 2)
	if p := readRTP(t, sdpAddr); len(p.Payload) != 160 {
		t.Fatalf("bad packet at the SDP address: %v", p)
	}

	// The first packet latches its source.
	sendRTP(t, source, l.LocalAddr(), 1)
	eventually(t, "the first packet to reach the sink", func() bool { return len(sink.got()) == 1 })
	if got := remoteOf(t, l); got != addrOf(source) {
		t.Fatalf("Remote %v after the first packet, want its source %v", got, addrOf(source))
	}
	writeAudio(l, 3)
	p := readRTP(t, source)
	if p.SSRC != l.Writer.ssrcValue() || len(p.Payload) != 160 {
		t.Errorf("reply: SSRC %#x payload %d bytes", p.SSRC, len(p.Payload))
	}
	silentFor(t, sdpAddr, 50*time.Millisecond)

	// A second source cannot hijack the stream.
	dropped := l.Reader.Dropped()
	sendRTP(t, stranger, l.LocalAddr(), 50)
	eventually(t, "the stranger's packet to be dropped", func() bool { return l.Reader.Dropped() == dropped+1 })
	if n := len(sink.got()); n != 1 {
		t.Fatalf("stranger's packet reached the sink (%d frames)", n)
	}
	if got := remoteOf(t, l); got != addrOf(source) {
		t.Fatalf("stranger moved the remote to %v", got)
	}
	sendRTP(t, source, l.LocalAddr(), 2)
	eventually(t, "the latched source's next packet", func() bool { return len(sink.got()) == 2 })
	writeAudio(l, 4)
	readRTP(t, source)
	silentFor(t, stranger, 50*time.Millisecond)

	// Setting the same address again keeps the latch.
	l.SetRemote(addrOf(source))
	sendRTP(t, stranger, l.LocalAddr(), 51)
	eventually(t, "the stranger's packet to be dropped", func() bool { return l.Reader.Dropped() == dropped+2 })

	// A re-INVITE moving the media re-arms the latch.
	moved := listenPeer(t)
	l.SetRemote(addrOf(moved))
	if got := remoteOf(t, l); got != addrOf(moved) {
		t.Fatalf("Remote %v after SetRemote, want %v", got, addrOf(moved))
	}
	writeAudio(l, 5)
	readRTP(t, moved)
	sendRTP(t, stranger, l.LocalAddr(), 52) // the new far end's source source
	eventually(t, "the re-latched packet", func() bool { return len(sink.got()) == 3 })
	if got := remoteOf(t, l); got != addrOf(stranger) {
		t.Fatalf("Remote %v after re-arming, want %v", got, addrOf(stranger))
	}
	writeAudio(l, 6)
	readRTP(t, stranger)
}

// A port scanner or a stray datagram arriving before the far end's first
// RTP packet must not be latched: that would drop the source stream for the
// rest of the call.
func TestUDPLegDoesNotLatchToJunk(t *testing.T) {
	l, _ := newTestLeg(t, pcmuWithEvents)
	var sink frameSink
	l.Reader.Sink.Store(&sink)
	source, stranger := listenPeer(t), listenPeer(t)
	l.SetRemote(addrOf(source))

	junk := [][]byte{
		{1, 2, 3},                               // short
		bytes.Repeat([]byte{0}, 40),             // not RTP version 2
		[]byte("OPTIONS sip:x SIP/2.0\r\n\r\n"), // SIP to the wrong port
		rtpPacket(t, rtp.Header{PayloadType: 18, SSRC: 1}, payloadOf(20, 0)), // a codec nobody negotiated
		bytes.Repeat([]byte{0x80}, MTU+1),                                    // oversized
	}
	for _, b := range junk {
		sendRaw(t, stranger, l.LocalAddr(), b)
	}
	eventually(t, "the junk to be dropped", func() bool { return l.Reader.Dropped() == uint64(len(junk)) })
	if got := remoteOf(t, l); got != addrOf(source) {
		t.Fatalf("junk from %v latched the leg (remote %v)", addrOf(stranger), got)
	}
	sendRTP(t, source, l.LocalAddr(), 1)
	eventually(t, "the source packet", func() bool { return len(sink.got()) == 1 })
	if got := remoteOf(t, l); got != addrOf(source) {
		t.Fatalf("remote %v, want %v", got, addrOf(source))
	}
}

func TestUDPLegIdle(t *testing.T) {
	l, _ := newTestLeg(t, pcmuWithEvents)
	if d := l.Idle(time.Now()); d < 0 || d > time.Minute {
		t.Fatalf("new leg idle for %v", d)
	}
	if d := l.Idle(time.Now().Add(time.Hour)); d < time.Hour {
		t.Fatalf("Idle an hour later = %v", d)
	}
	l.lastRecv.Store(time.Now().Add(-time.Hour).UnixNano())
	before := time.Now()
	l.TouchIdle()
	if d := l.Idle(time.Now()); d > time.Since(before) {
		t.Fatalf("Idle %v right after TouchIdle", d)
	}

	// An accepted packet restarts the clock; a dropped one does not.
	source, stranger := listenPeer(t), listenPeer(t)
	l.lastRecv.Store(time.Now().Add(-time.Hour).UnixNano())
	sendRTP(t, source, l.LocalAddr(), 1)
	eventually(t, "the packet to restart the idle clock", func() bool { return l.Idle(time.Now()) < time.Minute })
	l.lastRecv.Store(time.Now().Add(-time.Hour).UnixNano())
	// Another SSRC: with the source's own, a silent source's stream moving
	// would be a NAT rebinding (TestUDPLegRelearnsAfterNATRebinding).
	sendRTPWithSSRC(t, stranger, l.LocalAddr(), 2, 0xBAD)
	eventually(t, "the stranger's packet to be dropped", func() bool { return l.Reader.Dropped() == 1 })
	if d := l.Idle(time.Now()); d < time.Hour {
		t.Fatalf("a dropped packet restarted the idle clock (idle %v)", d)
	}
	// Comfort noise is not relayed, but a far end sending only CN during
	// silence is alive: no media timeout for it.
	cn := rtpPacket(t, rtp.Header{PayloadType: 13, SequenceNumber: 3, SSRC: 0xFA12}, []byte{60})
	sendRaw(t, source, l.LocalAddr(), cn)
	eventually(t, "comfort noise to restart the idle clock", func() bool { return l.Idle(time.Now()) < time.Minute })
	if l.Reader.Dropped() != 2 {
		t.Errorf("dropped %d, want the CN packet counted as dropped too", l.Reader.Dropped())
	}
}

func TestUDPLegCloseIsIdempotentAndFreesPorts(t *testing.T) {
	l, ports := newTestLeg(t, pcmuWithEvents)
	l.Reader.Sink.Store(&frameSink{})
	local := l.LocalAddr()
	if ports.InUse() != 1 {
		t.Fatalf("InUse %d", ports.InUse())
	}
	l.Close()
	l.Close()
	if ports.InUse() != 0 {
		t.Fatalf("InUse %d after Close", ports.InUse())
	}
	if l.Reader.Sink.Load() != nil {
		t.Error("Close left a sink linked")
	}
	for _, port := range []uint16{local.Port(), local.Port() + 1} {
		c, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(loopback, port)))
		if err != nil {
			t.Fatalf("port %d still bound after Close: %v", port, err)
		}
		c.Close()
	}
	// Writing to a closed leg fails quietly.
	l.SetRemote(addrOf(listenPeer(t)))
	writeAudio(l, 1)
	if l.Writer.Sent() != 0 {
		t.Errorf("Sent %d after Close", l.Writer.Sent())
	}
	select {
	case <-l.done:
	default:
		t.Error("done not closed")
	}
}

func TestUDPLegSendReport(t *testing.T) {
	l, _ := newTestLeg(t, pcmuWithEvents)
	// The far end's RTP and RTCP sockets on an even/odd pair.
	base := freeRange(t, 2)
	farRTP, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(loopback, uint16(base))))
	if err != nil {
		t.Fatal(err)
	}
	defer farRTP.Close()
	farRTCP, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(loopback, uint16(base+1))))
	if err != nil {
		t.Fatal(err)
	}
	defer farRTCP.Close()

	l.SendReport(time.Now()) // no remote yet: nothing
	l.SetRemote(addrOf(farRTP))
	l.SendReport(time.Now()) // nothing sent yet: nothing to report
	for seq := range uint16(3) {
		writeAudio(l, 10+seq)
		readRTP(t, farRTP)
	}
	now := time.Date(2030, 5, 6, 7, 8, 9, 500_000_000, time.UTC)
	l.SendReport(now)

	buf := make([]byte, MTU)
	if err := farRTCP.SetReadDeadline(time.Now().Add(3 * time.Second)); err != nil {
		t.Fatal(err)
	}
	n, from, err := farRTCP.ReadFromUDPAddrPort(buf)
	if err != nil {
		t.Fatalf("no RTCP at RTP port + 1: %v", err)
	}
	if from.Port() != l.LocalAddr().Port()+1 {
		t.Errorf("RTCP sent from port %d, want our RTCP port %d", from.Port(), l.LocalAddr().Port()+1)
	}
	pkts, err := rtcp.Unmarshal(buf[:n])
	if err != nil {
		t.Fatalf("unparseable RTCP: %v", err)
	}
	sr, ok := pkts[0].(*rtcp.SenderReport)
	if !ok {
		t.Fatalf("got %T, want a sender report", pkts[0])
	}
	// The first report to arrive is this one: the earlier calls sent none.
	if sr.PacketCount != 3 || sr.OctetCount != 3*160 {
		t.Errorf("packets %d octets %d, want 3 and 480", sr.PacketCount, sr.OctetCount)
	}
	if sr.SSRC != l.Writer.ssrcValue() {
		t.Errorf("SSRC %#x, want the writer's %#x", sr.SSRC, l.Writer.ssrcValue())
	}
	if sr.RTPTime != l.Writer.LastTimestamp() {
		t.Errorf("RTP time %d, want the last sent timestamp %d", sr.RTPTime, l.Writer.LastTimestamp())
	}
	const ntpEpochOffset = 2208988800
	if secs := int64(sr.NTPTime>>32) - ntpEpochOffset; secs != now.Unix() {
		t.Errorf("NTP seconds decode to %d, want %d", secs, now.Unix())
	}
	if frac := sr.NTPTime & 0xFFFFFFFF; frac != 1<<31 {
		t.Errorf("NTP fraction %#x, want half a second %#x", frac, uint64(1<<31))
	}

	// RTCP from the far end is counted.
	rr, err := (&rtcp.ReceiverReport{SSRC: 0xFA12}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	rtcpAddr := netip.AddrPortFrom(loopback, l.LocalAddr().Port()+1)
	sendRaw(t, farRTCP, rtcpAddr, rr)
	eventually(t, "the far end's RTCP to be counted", func() bool { return l.RTCPReceived() == 1 })
}

func sendRTPWithSSRC(t *testing.T, from *net.UDPConn, to netip.AddrPort, seq uint16, ssrc uint32) {
	t.Helper()
	b := rtpPacket(t, rtp.Header{PayloadType: 0, SequenceNumber: seq, Timestamp: uint32(seq) * 160, SSRC: ssrc}, payloadOf(160, byte(seq)))
	sendRaw(t, from, to, b)
}

// A NAT rebinding moves the far end's stream to a new source port: the
// leg follows it once the old source has been silent for a moment and the
// packets carry the same SSRC. Neither a live stream from elsewhere nor a
// silent-source takeover with another SSRC moves it.
func TestUDPLegRelearnsAfterNATRebinding(t *testing.T) {
	l, _ := newTestLeg(t, pcmuWithEvents)
	const after = 150 * time.Millisecond
	l.SetRelearnAfter(after)
	var sink frameSink
	l.Reader.Sink.Store(&sink)
	old, rebound, spoofer := listenPeer(t), listenPeer(t), listenPeer(t)
	l.SetRemote(addrOf(old))
	const ssrc = 0xC0FFEE

	sendRTPWithSSRC(t, old, l.LocalAddr(), 1, ssrc)
	eventually(t, "the first packet", func() bool { return len(sink.got()) == 1 })

	// While the old source is live, even the right SSRC from elsewhere is
	// dropped: two streams never alternate.
	sendRTPWithSSRC(t, spoofer, l.LocalAddr(), 2, ssrc)
	eventually(t, "the interleaved packet to be dropped", func() bool { return l.Reader.Dropped() == 1 })

	// The old source falls silent; a stream with another SSRC still cannot
	// take over.
	time.Sleep(after + 50*time.Millisecond) // the silence under test, not a wait for readiness
	sendRTPWithSSRC(t, spoofer, l.LocalAddr(), 3, 0xBAD)
	eventually(t, "the other SSRC to be dropped", func() bool { return l.Reader.Dropped() == 2 })
	if got := remoteOf(t, l); got != addrOf(old) || l.Relearned() != 0 {
		t.Fatalf("remote %v relearned %d after a foreign SSRC, want %v and 0", got, l.Relearned(), addrOf(old))
	}

	// The same SSRC from the rebound port is the same stream.
	sendRTPWithSSRC(t, rebound, l.LocalAddr(), 4, ssrc)
	eventually(t, "the rebound packet", func() bool { return len(sink.got()) == 2 })
	if got := remoteOf(t, l); got != addrOf(rebound) || l.Relearned() != 1 {
		t.Fatalf("remote %v relearned %d, want %v and 1", got, l.Relearned(), addrOf(rebound))
	}
	writeAudio(l, 10)
	readRTP(t, rebound)
	silentFor(t, old, 50*time.Millisecond)

	// And the old address is now the stranger while the new one is live.
	sendRTPWithSSRC(t, rebound, l.LocalAddr(), 5, ssrc)
	sendRTPWithSSRC(t, old, l.LocalAddr(), 6, ssrc)
	eventually(t, "the old address to be dropped", func() bool { return l.Reader.Dropped() == 3 })
	if got := remoteOf(t, l); got != addrOf(rebound) {
		t.Fatalf("the old address took the stream back: %v", got)
	}
}

// With re-learning off the first source stays latched for good.
func TestUDPLegRelearnOff(t *testing.T) {
	l, _ := newTestLeg(t, pcmuWithEvents)
	l.SetRelearnAfter(0)
	var sink frameSink
	l.Reader.Sink.Store(&sink)
	old, rebound := listenPeer(t), listenPeer(t)
	sendRTPWithSSRC(t, old, l.LocalAddr(), 1, 7)
	eventually(t, "the first packet", func() bool { return len(sink.got()) == 1 })
	l.lastRecv.Store(time.Now().Add(-time.Hour).UnixNano()) // long silent
	sendRTPWithSSRC(t, rebound, l.LocalAddr(), 2, 7)
	eventually(t, "the packet to be dropped", func() bool { return l.Reader.Dropped() == 1 })
	if got := remoteOf(t, l); got != addrOf(old) {
		t.Fatalf("remote %v, want %v", got, addrOf(old))
	}
}
