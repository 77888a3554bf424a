package dtmf

import (
	"errors"
	"testing"
)

type pkt struct {
	ts      uint32
	payload []byte
}

// press returns the packets a sender emits for one digit at timestamp ts.
func press(t *testing.T, digit rune, ts uint32) []pkt {
	t.Helper()
	code, ok := CodeForDigit(digit)
	if !ok {
		t.Fatalf("no code for %q", digit)
	}
	return eventPackets(t, code, ts)
}

func eventPackets(t *testing.T, code byte, ts uint32) []pkt {
	t.Helper()
	var out []pkt
	for _, e := range Packets(code, 100, 20, 10) {
		b := make([]byte, PayloadLen)
		if _, err := e.MarshalTo(b); err != nil {
			t.Fatal(err)
		}
		out = append(out, pkt{ts, b})
	}
	return out
}

func feed(t *testing.T, r *Receiver, pkts []pkt) string {
	t.Helper()
	var got []rune
	for _, p := range pkts {
		d, ok, err := r.Push(p.ts, p.payload)
		if err != nil {
			t.Fatalf("Push(%d, % x): %v", p.ts, p.payload, err)
		}
		if ok {
			got = append(got, d)
		}
	}
	return string(got)
}

func TestReceiverReportsEachDigitOnce(t *testing.T) {
	for _, base := range []uint32{1000, 0xFFFFFFFF - 6000} { // the second wraps
		var stream []pkt
		var prev []pkt
		for i, d := range "123#*0" {
			p := press(t, d, base+uint32(i)*2400)
			stream = append(stream, p...)
			// A network duplicate of an update packet...
			stream = append(stream, p[1])
			// ...and a late copy of the previous press's End packet
			// arriving after this press has started.
			if prev != nil {
				stream = append(stream, prev[len(prev)-1], prev[0])
			}
			prev = p
		}
		var r Receiver
		if got := feed(t, &r, stream); got != "123#*0" {
			t.Errorf("base %d: got %q, want %q", base, got, "123#*0")
		}
	}
}

func TestReceiverReportsOnEndNotStart(t *testing.T) {
	var r Receiver
	p := press(t, '7', 500)
	ends := len(p) - EndRepeats
	if got := feed(t, &r, p[:ends]); got != "" {
		t.Fatalf("reported %q before any End packet", got)
	}
	if got := feed(t, &r, p[ends:ends+1]); got != "7" {
		t.Fatalf("first End packet reported %q, want \"7\"", got)
	}
}

func TestReceiverRecoversLostEnd(t *testing.T) {
	var r Receiver
	five := press(t, '5', 100)
	six := press(t, '6', 3000)
	stream := append(five[:len(five)-EndRepeats:len(five)-EndRepeats], six...)
	// '5' has no End packets; it must surface when '6' starts, and '6'
	// must still be reported once.
	if got := feed(t, &r, stream); got != "56" {
		t.Fatalf("got %q, want \"56\"", got)
	}

	// The next event's very first packet is its End: the pending press is
	// reported by that packet and the new one by its redundant copy.
	r.Reset()
	eight := press(t, '8', 100)
	nine := press(t, '9', 3000)
	stream = append(eight[:2:2], nine[len(nine)-EndRepeats:]...)
	if got := feed(t, &r, stream); got != "89" {
		t.Fatalf("got %q, want \"89\"", got)
	}
}

func TestReceiverTimestampJump(t *testing.T) {
	var r Receiver
	// A jump far backwards (new SSRC) is a new event, not a stale packet.
	stream := append(press(t, '1', 2_000_000_000), press(t, '2', 7)...)
	if got := feed(t, &r, stream); got != "12" {
		t.Fatalf("got %q, want \"12\"", got)
	}
}

func TestReceiverFlashIsNotADigit(t *testing.T) {
	var r Receiver
	stream := append(eventPackets(t, CodeFlash, 100), press(t, '4', 5000)...)
	if got := feed(t, &r, stream); got != "4" {
		t.Fatalf("got %q, want \"4\"", got)
	}
}

func TestReceiverErrorsLeaveStateIntact(t *testing.T) {
	var r Receiver
	p := press(t, '#', 100)
	ends := len(p) - EndRepeats
	feed(t, &r, p[:ends])

	if _, ok, err := r.Push(100, []byte{11, 0x80}); !errors.Is(err, ErrShortPayload) || ok {
		t.Fatalf("short payload: ok=%v err=%v", ok, err)
	}
	if _, ok, err := r.Push(9999, []byte{40, 0x80, 0, 0}); !errors.Is(err, ErrBadEvent) || ok {
		t.Fatalf("bad event: ok=%v err=%v", ok, err)
	}
	if got := feed(t, &r, p[ends:]); got != "#" {
		t.Fatalf("after errors got %q, want \"#\"", got)
	}
}
