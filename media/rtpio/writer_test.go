package rtpio

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/ringbridge/ringbridge/media/dtmf"
	"github.com/ringbridge/ringbridge/media/g711"
)

const testSSRC = 0x5EED5EED

func audioFrame(codec Codec, pt uint8, seq uint16, ts uint32, payload []byte) *Frame {
	return &Frame{
		Header:  rtp.Header{Version: 2, PayloadType: pt, SequenceNumber: seq, Timestamp: ts, SSRC: 0xCAFE},
		Payload: payload,
		Codec:   codec,
	}
}

func TestWriterMapsPayloadTypes(t *testing.T) {
	cases := []struct {
		name   string
		format Format
		frame  Codec
		inPT   uint8
		wantPT uint8
		sent   bool
	}{
		{"audio to static PT", Format{Codec: CodecPCMU, AudioPT: 0, EventPT: 101}, CodecPCMU, 0, 0, true},
		{"audio to a dynamic PT", Format{Codec: CodecPCMA, AudioPT: 96, EventPT: 101}, CodecPCMA, 8, 96, true},
		{"event to the far end's event PT", Format{Codec: CodecPCMU, AudioPT: 0, EventPT: 101}, CodecEvent, 126, 101, true},
		{"event to another event PT", Format{Codec: CodecPCMA, AudioPT: 8, EventPT: 96}, CodecEvent, 101, 96, true},
		{"event dropped without telephone-event", Format{Codec: CodecPCMU, AudioPT: 0}, CodecEvent, 101, 0, false},
		{"codec none dropped", Format{Codec: CodecPCMU, AudioPT: 0, EventPT: 101}, CodecNone, 13, 0, false},
		{"writer without a codec drops audio", Format{}, CodecPCMU, 0, 0, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var cap capture
			w := NewWriter(testSSRC, c.format, cap.out)
			payload := []byte{1, 2, 3, 4}
			w.WriteFrame(audioFrame(c.frame, c.inPT, 1, 160, payload))
			pkts := cap.packets()
			if !c.sent {
				if len(pkts) != 0 || w.Sent() != 0 {
					t.Fatalf("sent %d packets (Sent()=%d), want none", len(pkts), w.Sent())
				}
				return
			}
			if len(pkts) != 1 || w.Sent() != 1 {
				t.Fatalf("sent %d packets (Sent()=%d), want 1", len(pkts), w.Sent())
			}
			if got := pkts[0].h.PayloadType; got != c.wantPT {
				t.Errorf("PT %d, want %d", got, c.wantPT)
			}
			if c.frame != CodecEvent && !bytes.Equal(pkts[0].payload, []byte{1, 2, 3, 4}) {
				t.Errorf("payload changed to % x", pkts[0].payload)
			}
		})
	}
}

func TestWriterConvertsG711InPlace(t *testing.T) {
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	cases := []struct {
		name    string
		from    Codec
		to      Format
		convert func(byte) byte
	}{
		{"PCMU to PCMA", CodecPCMU, Format{Codec: CodecPCMA, AudioPT: 8}, g711.UlawToAlaw},
		{"PCMA to PCMU", CodecPCMA, Format{Codec: CodecPCMU, AudioPT: 0}, g711.AlawToUlaw},
		{"PCMU passthrough", CodecPCMU, Format{Codec: CodecPCMU, AudioPT: 0}, func(b byte) byte { return b }},
		{"PCMA passthrough", CodecPCMA, Format{Codec: CodecPCMA, AudioPT: 8}, func(b byte) byte { return b }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var cap capture
			w := NewWriter(testSSRC, c.to, cap.out)
			payload := bytes.Clone(all)
			w.WriteFrame(audioFrame(c.from, 0, 1, 0, payload))
			pkts := cap.packets()
			if len(pkts) != 1 {
				t.Fatalf("sent %d packets, want 1", len(pkts))
			}
			want := make([]byte, len(all))
			for i, b := range all {
				want[i] = c.convert(b)
			}
			if !bytes.Equal(pkts[0].payload, want) {
				t.Fatalf("payload differs from g711's conversion table")
			}
			if pkts[0].data != &payload[0] {
				t.Error("payload was copied; want the conversion in place")
			}
			if !bytes.Equal(payload, want) {
				t.Error("the frame's own payload does not hold the converted bytes")
			}
			if got := pkts[0].h.PayloadType; got != c.to.AudioPT {
				t.Errorf("PT %d, want %d", got, c.to.AudioPT)
			}
		})
	}
}

func TestWriterStripsHeaderAndSetsSSRC(t *testing.T) {
	var cap capture
	w := NewWriter(testSSRC, Format{Codec: CodecPCMU, AudioPT: 0, EventPT: 101}, cap.out)
	f := audioFrame(CodecPCMU, 0, 10, 1600, payloadOf(160, 0))
	f.Header.Padding = true
	f.Header.CSRC = []uint32{1, 2, 3}
	if err := f.Header.SetExtension(1, []byte{0xAA}); err != nil {
		t.Fatal(err)
	}
	w.WriteFrame(f)

	w.SetSSRC(0x12345678)
	f2 := audioFrame(CodecPCMU, 0, 11, 1760, payloadOf(160, 0))
	w.WriteFrame(f2)

	pkts := cap.packets()
	if len(pkts) != 2 {
		t.Fatalf("sent %d packets, want 2", len(pkts))
	}
	h := pkts[0].h
	if h.Extension || len(h.Extensions) != 0 || len(h.CSRC) != 0 || h.Padding {
		t.Errorf("header keeps extension=%v extensions=%v csrc=%v padding=%v; want them stripped",
			h.Extension, h.Extensions, h.CSRC, h.Padding)
	}
	if h.Version != 2 {
		t.Errorf("version %d", h.Version)
	}
	if h.SSRC != testSSRC {
		t.Errorf("SSRC %#x, want the writer's %#x", h.SSRC, testSSRC)
	}
	if got := h.MarshalSize(); got != 12 {
		t.Errorf("header marshals to %d bytes, want a bare 12", got)
	}
	if pkts[1].h.SSRC != 0x12345678 {
		t.Errorf("after SetSSRC: SSRC %#x", pkts[1].h.SSRC)
	}
	if w.LastTimestamp() != pkts[1].h.Timestamp {
		t.Errorf("LastTimestamp %d, want %d", w.LastTimestamp(), pkts[1].h.Timestamp)
	}
}

func TestWriterMarksNewSources(t *testing.T) {
	var cap capture
	w := NewWriter(testSSRC, Format{Codec: CodecPCMU, AudioPT: 0}, cap.out)
	w.WriteFrame(audioFrame(CodecPCMU, 0, 1, 160, payloadOf(4, 0)))
	w.WriteFrame(audioFrame(CodecPCMU, 0, 2, 320, payloadOf(4, 0)))
	w.NewSource()
	w.WriteFrame(audioFrame(CodecPCMU, 0, 3, 480, payloadOf(4, 0)))
	f := audioFrame(CodecPCMU, 0, 4, 640, payloadOf(4, 0))
	f.Header.SSRC = 0xBEEF // another source
	w.WriteFrame(f)

	var got []bool
	var seqs []uint16
	for _, p := range cap.packets() {
		got = append(got, p.h.Marker)
		seqs = append(seqs, p.h.SequenceNumber)
	}
	want := []bool{true, false, true, true}
	for i := range want {
		if i >= len(got) || got[i] != want[i] {
			t.Fatalf("markers %v, want %v", got, want)
		}
	}
	for i := 1; i < len(seqs); i++ {
		if seqs[i] != seqs[i-1]+1 {
			t.Errorf("sequence numbers %v are not continuous", seqs)
			break
		}
	}
}

func TestWriterDropsRelayedFramesWhileInjecting(t *testing.T) {
	var cap capture
	w := NewWriter(testSSRC, Format{Codec: CodecPCMU, AudioPT: 0, EventPT: 101}, cap.out)

	// While the first digit packet is being sent, relay audio and an event
	// from the other party: both must be dropped. Writing from inside the
	// OutFunc makes this deterministic (the injection is certainly under
	// way); WriteFrame must not take the lock SendDTMF holds here.
	var once sync.Once
	relayed := make(chan struct{})
	cap.onSend = func(*rtp.Header, []byte) {
		once.Do(func() {
			go func() {
				defer close(relayed)
				for i := range 5 {
					w.WriteFrame(audioFrame(CodecPCMU, 0, uint16(i), uint32(i)*160, payloadOf(160, 0)))
				}
				w.WriteFrame(audioFrame(CodecEvent, 101, 9, 0, []byte{5, 0x80, 0, 160}))
			}()
			select {
			case <-relayed:
			case <-time.After(5 * time.Second):
				t.Error("WriteFrame blocked during DTMF injection")
			}
		})
	}
	if err := w.SendDTMF(context.Background(), "7"); err != nil {
		t.Fatal(err)
	}
	for i, p := range cap.packets() {
		if p.h.PayloadType != 101 {
			t.Fatalf("packet %d has PT %d during injection; relayed frames must be dropped", i, p.h.PayloadType)
		}
	}
	if got := digitsIn(t, cap.packets(), 101); got != "7" {
		t.Fatalf("far end decoded %q, want \"7\"", got)
	}

	// Afterwards relayed audio flows again, continuing the stream.
	n := cap.len()
	w.WriteFrame(audioFrame(CodecPCMU, 0, 100, 16000, payloadOf(160, 0)))
	pkts := cap.packets()
	if len(pkts) != n+1 {
		t.Fatalf("audio after DTMF not sent")
	}
	last, prev := pkts[n].h, pkts[n-1].h
	if last.PayloadType != 0 || !last.Marker || last.SequenceNumber != prev.SequenceNumber+1 {
		t.Errorf("audio after DTMF: PT %d marker %v seq %d (previous %d)", last.PayloadType, last.Marker,
			last.SequenceNumber, prev.SequenceNumber)
	}
}

// checkEventFraming checks the RTP framing of injected digits: one
// timestamp per digit, marker on its first packet only, consecutive
// sequence numbers, our SSRC and the event PT.
func checkEventFraming(t *testing.T, pkts []sentPacket, eventPT uint8, ssrc uint32) {
	t.Helper()
	for i, p := range pkts {
		if p.h.PayloadType != eventPT || p.h.SSRC != ssrc {
			t.Fatalf("packet %d: PT %d SSRC %#x, want %d %#x", i, p.h.PayloadType, p.h.SSRC, eventPT, ssrc)
		}
		if i == 0 {
			if !p.h.Marker {
				t.Errorf("first packet has no marker")
			}
			continue
		}
		prev := pkts[i-1].h
		if p.h.SequenceNumber != prev.SequenceNumber+1 {
			t.Errorf("packet %d: seq %d after %d", i, p.h.SequenceNumber, prev.SequenceNumber)
		}
		newDigit := p.h.Timestamp != prev.Timestamp
		if p.h.Marker != newDigit {
			t.Errorf("packet %d: marker %v, but new digit %v", i, p.h.Marker, newDigit)
		}
		if newDigit && int32(p.h.Timestamp-prev.Timestamp) <= 0 {
			t.Errorf("packet %d: digit timestamp %d does not advance from %d", i, p.h.Timestamp, prev.Timestamp)
		}
	}
}

func TestWriterSendDTMF(t *testing.T) {
	var cap capture
	w := NewWriter(testSSRC, Format{Codec: CodecPCMA, AudioPT: 8, EventPT: 96}, cap.out)
	const digits = "19*#AD0"
	if err := w.SendDTMF(context.Background(), digits); err != nil {
		t.Fatal(err)
	}
	pkts := cap.packets()
	if got := digitsIn(t, pkts, 96); got != digits {
		t.Fatalf("far end decoded %q, want %q", got, digits)
	}
	perDigit := len(dtmf.Packets(1, 100, 20, 10))
	if len(pkts) != perDigit*len(digits) {
		t.Errorf("sent %d packets, want %d per digit", len(pkts), perDigit)
	}
	checkEventFraming(t, pkts, 96, testSSRC)
	for _, p := range pkts {
		ev, err := dtmf.Unmarshal(p.payload)
		if err != nil {
			t.Fatal(err)
		}
		if ev.Duration > 800 {
			t.Errorf("event duration %d, want at most 100 ms", ev.Duration)
		}
	}
}

// Digits sent by two separate SendDTMF calls, with no relayed audio in
// between (an IVR leg, or a call on hold), must both reach the far end.
func TestWriterSendDTMFTwiceInARow(t *testing.T) {
	var cap capture
	w := NewWriter(testSSRC, Format{Codec: CodecPCMU, AudioPT: 0, EventPT: 101}, cap.out)
	for _, d := range []string{"1", "2", "3"} {
		if err := w.SendDTMF(context.Background(), d); err != nil {
			t.Fatal(err)
		}
	}
	pkts := cap.packets()
	if got := digitsIn(t, pkts, 101); got != "123" {
		t.Fatalf("far end decoded %q, want \"123\"", got)
	}
	checkEventFraming(t, pkts, 101, testSSRC)
}

// Legs start SendDTMF on a goroutine per request, so two quick key presses
// overlap; both digits must arrive, one after the other.
func TestWriterSendDTMFConcurrentCallsDoNotInterleave(t *testing.T) {
	var cap capture
	w := NewWriter(testSSRC, Format{Codec: CodecPCMU, AudioPT: 0, EventPT: 101}, cap.out)
	var wg sync.WaitGroup
	for _, d := range []string{"4", "5"} {
		wg.Go(func() {
			if err := w.SendDTMF(context.Background(), d); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	pkts := cap.packets()
	got := digitsIn(t, pkts, 101)
	if got != "45" && got != "54" {
		t.Fatalf("far end decoded %q, want both digits", got)
	}
	checkEventFraming(t, pkts, 101, testSSRC)
}

func TestWriterSendDTMFErrors(t *testing.T) {
	var cap capture
	w := NewWriter(testSSRC, Format{Codec: CodecPCMU, AudioPT: 0}, cap.out)
	if err := w.SendDTMF(context.Background(), "1"); !errors.Is(err, ErrNoTelephoneEvent) {
		t.Errorf("without telephone-event: err %v, want ErrNoTelephoneEvent", err)
	}
	w.SetFormat(Format{Codec: CodecPCMU, AudioPT: 0, EventPT: 101})
	for _, digits := range []string{"x", "12x", "1 2", "E"} {
		if err := w.SendDTMF(context.Background(), digits); !errors.Is(err, ErrBadDigit) {
			t.Errorf("SendDTMF(%q): err %v, want ErrBadDigit", digits, err)
		}
	}
	if n := cap.len(); n != 0 {
		t.Errorf("%d packets sent for rejected digit strings, want none", n)
	}
	// After an error the writer relays audio again.
	w.WriteFrame(audioFrame(CodecPCMU, 0, 1, 160, payloadOf(160, 0)))
	if cap.len() != 1 {
		t.Error("relayed audio dropped after a failed SendDTMF")
	}
}

func TestWriterSendDTMFStopsWithContext(t *testing.T) {
	var cap capture
	w := NewWriter(testSSRC, Format{Codec: CodecPCMU, AudioPT: 0, EventPT: 101}, cap.out)
	ctx, cancel := context.WithCancel(context.Background())
	cap.onSend = func(*rtp.Header, []byte) { cancel() }
	if err := w.SendDTMF(ctx, "123"); !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v, want context.Canceled", err)
	}
	if n := cap.len(); n > 2 {
		t.Errorf("%d packets sent after cancel", n)
	}
	cap.onSend = nil
	w.WriteFrame(audioFrame(CodecPCMU, 0, 1, 160, payloadOf(160, 0)))
	pkts := cap.packets()
	if pkts[len(pkts)-1].h.PayloadType != 0 {
		t.Error("relayed audio still muted after a cancelled SendDTMF")
	}
}

func TestWriterCountsOnlySuccessfulSends(t *testing.T) {
	fail := true
	w := NewWriter(testSSRC, Format{Codec: CodecPCMU, AudioPT: 0}, func(*rtp.Header, []byte, *SendQueue) error {
		if fail {
			return errors.New("no route")
		}
		return nil
	})
	w.WriteFrame(audioFrame(CodecPCMU, 0, 1, 160, payloadOf(4, 0)))
	if w.Sent() != 0 {
		t.Errorf("Sent %d after a failed send", w.Sent())
	}
	fail = false
	w.WriteFrame(audioFrame(CodecPCMU, 0, 2, 320, payloadOf(4, 0)))
	if w.Sent() != 1 {
		t.Errorf("Sent %d, want 1", w.Sent())
	}
}
