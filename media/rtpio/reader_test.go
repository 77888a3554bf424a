package rtpio

import (
	"bytes"
	"testing"

	"github.com/pion/rtp"
	"github.com/ringbridge/ringbridge/media/dtmf"
)

var pcmaWithEvents = Format{Codec: CodecPCMA, AudioPT: 8, EventPT: 101}

func TestReaderClassifiesByPayloadType(t *testing.T) {
	r := NewReader(pcmaWithEvents)
	var sink frameSink
	r.Sink.Store(&sink)

	audio := payloadOf(160, 7)
	r.Deliver(rtpPacket(t, rtp.Header{PayloadType: 8, SequenceNumber: 1, Timestamp: 160, SSRC: 9}, audio))
	event := []byte{3, 10, 0, 160}
	r.Deliver(rtpPacket(t, rtp.Header{PayloadType: 101, SequenceNumber: 2, Timestamp: 320, SSRC: 9, Marker: true}, event))
	// PCMU is not what this leg negotiated; 13 is comfort noise.
	r.Deliver(rtpPacket(t, rtp.Header{PayloadType: 0, SequenceNumber: 3, Timestamp: 480, SSRC: 9}, audio))
	r.Deliver(rtpPacket(t, rtp.Header{PayloadType: 13, SequenceNumber: 4, Timestamp: 640, SSRC: 9}, []byte{40}))

	got := sink.got()
	if len(got) != 2 {
		t.Fatalf("sink got %d frames, want 2", len(got))
	}
	if got[0].Codec != CodecPCMA || !bytes.Equal(got[0].Payload, audio) || got[0].Header.SequenceNumber != 1 {
		t.Errorf("audio frame: codec %v seq %d payload ok %v", got[0].Codec, got[0].Header.SequenceNumber,
			bytes.Equal(got[0].Payload, audio))
	}
	if got[1].Codec != CodecEvent || !bytes.Equal(got[1].Payload, event) || !got[1].Header.Marker {
		t.Errorf("event frame: codec %v payload % x marker %v", got[1].Codec, got[1].Payload, got[1].Header.Marker)
	}
	if r.Received() != 4 || r.Dropped() != 2 {
		t.Errorf("received %d dropped %d, want 4 and 2", r.Received(), r.Dropped())
	}

	// A re-INVITE switching to PCMU on a dynamic PT.
	r.SetFormat(Format{Codec: CodecPCMU, AudioPT: 0})
	if f := r.Format(); f.Codec != CodecPCMU || f.AudioPT != 0 || f.EventPT != 0 {
		t.Fatalf("Format() = %+v", f)
	}
	r.Deliver(rtpPacket(t, rtp.Header{PayloadType: 0, SequenceNumber: 5, Timestamp: 800, SSRC: 9}, audio))
	// Without telephone-event, events are not relayed.
	r.Deliver(rtpPacket(t, rtp.Header{PayloadType: 101, SequenceNumber: 6, Timestamp: 960, SSRC: 9}, event))
	got = sink.got()
	if len(got) != 3 || got[2].Codec != CodecPCMU {
		t.Fatalf("after SetFormat: %d frames, last codec %v", len(got), got[len(got)-1].Codec)
	}
}

// With no telephone-event negotiated (EventPT 0) on a PCMA leg, a stray
// PT 0 packet must not be taken for an event.
func TestReaderEventPTZeroMeansNone(t *testing.T) {
	r := NewReader(Format{Codec: CodecPCMA, AudioPT: 8})
	var sink frameSink
	r.Sink.Store(&sink)
	r.Deliver(rtpPacket(t, rtp.Header{PayloadType: 0, SequenceNumber: 1, SSRC: 1}, []byte{1, 0x80, 0, 160}))
	if n := len(sink.got()); n != 0 {
		t.Fatalf("PT 0 relayed as %v", sink.got()[0].Codec)
	}
	if r.Dropped() != 1 {
		t.Errorf("dropped %d, want 1", r.Dropped())
	}
}

func TestReaderDropsMalformedPackets(t *testing.T) {
	good := rtp.Header{PayloadType: 8, SequenceNumber: 1, Timestamp: 160, SSRC: 9}
	withCSRC := good
	withCSRC.CSRC = []uint32{1, 2}
	csrcPacket := rtpPacket(t, withCSRC, payloadOf(20, 0))
	withExt := good
	if err := withExt.SetExtension(1, []byte{1, 2, 3}); err != nil {
		t.Fatal(err)
	}
	extPacket := rtpPacket(t, withExt, payloadOf(20, 0))

	badPadding := rtpPacket(t, good, payloadOf(10, 0))
	badPadding[0] |= 0x20                // P bit
	badPadding[len(badPadding)-1] = 0xFF // claims 255 bytes of padding

	version1 := rtpPacket(t, good, payloadOf(10, 0))
	version1[0] = version1[0]&0x3F | 0x40

	cases := []struct {
		name string
		pkt  []byte
	}{
		{"empty", nil},
		{"one byte", []byte{0x80}},
		{"11 bytes", rtpPacket(t, good, nil)[:11]},
		{"garbage", []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n")},
		{"all ones", bytes.Repeat([]byte{0xFF}, 40)},
		{"RTP version 1", version1},
		{"truncated CSRC list", csrcPacket[:16]},
		{"truncated extension", extPacket[:14]},
		{"padding longer than payload", badPadding},
		{"unknown payload type", rtpPacket(t, rtp.Header{PayloadType: 18, SSRC: 9}, payloadOf(20, 0))},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := NewReader(pcmaWithEvents)
			var sink frameSink
			r.Sink.Store(&sink)
			r.Deliver(c.pkt)
			if r.Dropped() != 1 {
				t.Errorf("dropped %d, want 1", r.Dropped())
			}
			if n := len(sink.got()); n != 0 {
				t.Errorf("%d frames reached the sink", n)
			}
		})
	}
}

func TestReaderStripsPaddingAndHeaderExtras(t *testing.T) {
	r := NewReader(pcmaWithEvents)
	var sink frameSink
	r.Sink.Store(&sink)
	h := rtp.Header{PayloadType: 8, SequenceNumber: 1, Timestamp: 160, SSRC: 9, CSRC: []uint32{4, 5}}
	if err := h.SetExtension(1, []byte{1, 2, 3}); err != nil {
		t.Fatal(err)
	}
	payload := payloadOf(160, 1)
	p := rtp.Packet{Header: h, Payload: payload, PaddingSize: 4}
	p.Header.Padding = true
	p.Header.Version = 2
	buf, err := p.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	r.Deliver(buf)
	got := sink.got()
	if len(got) != 1 {
		t.Fatalf("%d frames, want 1 (dropped %d)", len(got), r.Dropped())
	}
	if !bytes.Equal(got[0].Payload, payload) {
		t.Errorf("payload of %d bytes, want the %d bytes without header extras and padding", len(got[0].Payload), len(payload))
	}
}

func TestReaderReportsEachDigitOnce(t *testing.T) {
	r := NewReader(pcmaWithEvents)
	var sink frameSink
	r.Sink.Store(&sink)
	var digits []rune
	r.OnDTMF(func(d rune) { digits = append(digits, d) })

	seq := uint16(100)
	send := func(ts uint32, ev dtmf.Event, times int) {
		var b [4]byte
		if _, err := ev.MarshalTo(b[:]); err != nil {
			t.Fatal(err)
		}
		for range times { // duplicated by the network
			r.Deliver(rtpPacket(t, rtp.Header{PayloadType: 101, SequenceNumber: seq, Timestamp: ts, SSRC: 3}, b[:]))
		}
		seq++
	}
	press := func(digit rune, ts uint32) {
		code, _ := dtmf.CodeForDigit(digit)
		for i, ev := range dtmf.Packets(code, 100, 20, 10) {
			send(ts, ev, 1+i%2)
		}
	}
	press('5', 8000)
	press('5', 9600) // the same key pressed again is a new event
	press('#', 11200)
	// A late duplicate End of the first press changes nothing.
	send(8000, dtmf.Event{Code: 5, End: true, Duration: 800}, 1)

	if string(digits) != "55#" {
		t.Fatalf("OnDTMF got %q, want \"55#\"", string(digits))
	}
	// Event packets are relayed too, all of them.
	if n := len(sink.got()); n == 0 {
		t.Error("event packets not relayed")
	}

	// Out-of-band digits use the same callback.
	r.EmitDTMF('9')
	if string(digits) != "55#9" {
		t.Errorf("after EmitDTMF: %q", string(digits))
	}
	// A nil callback is allowed.
	r.OnDTMF(nil)
	press('1', 12800)
	r.EmitDTMF('2')
}

func TestReaderWithoutSink(t *testing.T) {
	r := NewReader(pcmaWithEvents)
	r.Deliver(rtpPacket(t, rtp.Header{PayloadType: 8, SSRC: 1}, payloadOf(160, 0)))
	if r.Received() != 1 || r.Dropped() != 0 {
		t.Errorf("received %d dropped %d", r.Received(), r.Dropped())
	}
}

func TestSinkSlot(t *testing.T) {
	var slot SinkSlot
	if slot.Load() != nil {
		t.Fatal("zero SinkSlot has a sink")
	}
	a, b := &frameSink{}, &frameSink{}
	slot.Store(a)
	if slot.Load() != a {
		t.Fatal("Load after Store(a)")
	}
	slot.CompareAndClear(b) // b is not linked: no effect
	if slot.Load() != a {
		t.Fatal("CompareAndClear(b) unlinked a")
	}
	slot.Store(b) // a newer link replaces a
	slot.CompareAndClear(a)
	if slot.Load() != b {
		t.Fatal("CompareAndClear of the old sink unlinked the newer one")
	}
	slot.CompareAndClear(b)
	if slot.Load() != nil {
		t.Fatal("CompareAndClear(b) left b linked")
	}
	slot.CompareAndClear(b) // on an empty slot
	slot.Store(a)
	slot.Store(nil)
	if slot.Load() != nil {
		t.Fatal("Store(nil) did not unlink")
	}
}
