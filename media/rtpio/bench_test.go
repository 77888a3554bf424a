package rtpio

import (
	"testing"
	"time"

	"github.com/pion/rtp"
)

func noopOut(*rtp.Header, []byte, *SendQueue) error { return nil }

type noopSink struct{}

func (noopSink) WriteFrame(*Frame) {}

func benchmarkWriter(b *testing.B, from Codec, to Format) {
	w := NewWriter(testSSRC, to, noopOut)
	f := audioFrame(from, 0, 0, 0, make([]byte, 160))
	b.ReportAllocs()
	b.SetBytes(160)
	for b.Loop() {
		f.Header.SequenceNumber++
		f.Header.Timestamp += 160
		w.WriteFrame(f)
	}
	if w.Sent() == 0 {
		b.Fatal("nothing sent")
	}
}

// BenchmarkWriterPassthrough is the cost per packet when both legs agree
// on the codec.
func BenchmarkWriterPassthrough(b *testing.B) {
	benchmarkWriter(b, CodecPCMU, Format{Codec: CodecPCMU, AudioPT: 0, EventPT: 101})
}

// BenchmarkWriterTranscode converts PCMU to PCMA in place.
func BenchmarkWriterTranscode(b *testing.B) {
	benchmarkWriter(b, CodecPCMU, Format{Codec: CodecPCMA, AudioPT: 8, EventPT: 101})
}

func BenchmarkReaderDeliver(b *testing.B) {
	r := NewReader(pcmuWithEvents)
	r.Sink.Store(noopSink{})
	pkt := rtpPacket(b, rtp.Header{PayloadType: 0, SequenceNumber: 1, Timestamp: 160, SSRC: 7}, make([]byte, 160))
	b.ReportAllocs()
	b.SetBytes(int64(len(pkt)))
	for b.Loop() {
		r.Deliver(pkt)
	}
	if r.Dropped() != 0 {
		b.Fatalf("dropped %d", r.Dropped())
	}
}

// BenchmarkUDPRelay measures one packet from a far end through leg A's
// read loop, across the link into leg B's writer and out to B's far end,
// on real loopback sockets. It runs in lock step, so ns/op is the latency
// of one relayed packet including four syscalls and two goroutine
// wake-ups; allocs/op includes the far ends' socket calls.
func BenchmarkUDPRelay(b *testing.B) {
	a, _ := newTestLeg(b, pcmuWithEvents)
	bl, _ := newTestLeg(b, Format{Codec: CodecPCMA, AudioPT: 8, EventPT: 101})
	farA, farB := listenPeer(b), listenPeer(b)
	a.SetRemote(addrOf(farA))
	bl.SetRemote(addrOf(farB))
	a.Reader.Sink.Store(bl.Writer)
	bl.Reader.Sink.Store(a.Writer)

	pkt := rtpPacket(b, rtp.Header{PayloadType: 0, SequenceNumber: 1, Timestamp: 160, SSRC: 7}, make([]byte, 160))
	to := a.LocalAddr()
	buf := make([]byte, MTU)
	if err := farB.SetReadDeadline(time.Now().Add(10 * time.Minute)); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(pkt)))
	for b.Loop() {
		if _, err := farA.WriteToUDPAddrPort(pkt, to); err != nil {
			b.Fatal(err)
		}
		n, err := farB.Read(buf)
		if err != nil {
			b.Fatal(err)
		}
		if n != len(pkt) || buf[1]&0x7F != 8 {
			b.Fatalf("relayed %d bytes with PT %d", n, buf[1]&0x7F)
		}
	}
}

// The hot path must not allocate: at 50 packets a second per leg, garbage
// per packet becomes GC pauses heard as jitter.
func TestHotPathDoesNotAllocate(t *testing.T) {
	w := NewWriter(testSSRC, Format{Codec: CodecPCMA, AudioPT: 8, EventPT: 101}, noopOut)
	r := NewReader(pcmuWithEvents)
	r.Sink.Store(w)
	var ev [4]byte
	ev[0], ev[1], ev[3] = 1, 0x80, 160
	audio := rtpPacket(t, rtp.Header{PayloadType: 0, SequenceNumber: 1, Timestamp: 160, SSRC: 7}, make([]byte, 160))
	event := rtpPacket(t, rtp.Header{PayloadType: 101, SequenceNumber: 2, Timestamp: 320, SSRC: 7}, ev[:])
	for name, pkt := range map[string][]byte{"audio": audio, "event": event} {
		if n := testing.AllocsPerRun(1000, func() { r.Deliver(pkt) }); n != 0 {
			t.Errorf("%s: Reader.Deliver into a transcoding Writer allocates %.1f times per packet", name, n)
		}
	}
}
