package dtmf

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

func TestEventWireFormat(t *testing.T) {
	// RFC 4733 §2.3: event, E|R|volume, 16-bit duration in network order.
	e := Event{Code: 5, End: true, Volume: 10, Duration: 800}
	b := make([]byte, 6)
	n, err := e.MarshalTo(b)
	if err != nil || n != PayloadLen {
		t.Fatalf("MarshalTo = %d, %v", n, err)
	}
	if want := []byte{0x05, 0x8A, 0x03, 0x20, 0, 0}; !bytes.Equal(b, want) {
		t.Fatalf("MarshalTo wrote % x, want % x", b, want)
	}
}

func TestEventRoundTrip(t *testing.T) {
	var b [PayloadLen]byte
	for code := byte(0); code <= CodeFlash; code++ {
		for _, e := range []Event{
			{Code: code},
			{Code: code, End: true, Volume: MaxVolume, Duration: 0xFFFF},
			{Code: code, Volume: 7, Duration: 0x0102},
		} {
			if _, err := e.MarshalTo(b[:]); err != nil {
				t.Fatalf("MarshalTo(%+v): %v", e, err)
			}
			got, err := Unmarshal(b[:])
			if err != nil || got != e {
				t.Fatalf("round trip %+v -> % x -> %+v, %v", e, b, got, err)
			}
		}
	}
}

func TestUnmarshalIgnoresReservedBitAndTrailingBytes(t *testing.T) {
	got, err := Unmarshal([]byte{11, 0x40 | 0x80 | 20, 0, 160, 0xEE})
	want := Event{Code: 11, End: true, Volume: 20, Duration: 160}
	if err != nil || got != want {
		t.Fatalf("Unmarshal = %+v, %v; want %+v", got, err, want)
	}
}

func TestBadInput(t *testing.T) {
	cases := []struct {
		name string
		err  error
		want error
	}{
		{"unmarshal empty", second(Unmarshal(nil)), ErrShortPayload},
		{"unmarshal 3 bytes", second(Unmarshal([]byte{1, 0, 0})), ErrShortPayload},
		{"unmarshal code 17", second(Unmarshal([]byte{17, 0, 0, 0})), ErrBadEvent},
		{"unmarshal code 255", second(Unmarshal([]byte{255, 0x80, 0, 0})), ErrBadEvent},
		{"marshal code 17", second(Event{Code: 17}.MarshalTo(make([]byte, 4))), ErrBadEvent},
		{"marshal volume 64", second(Event{Volume: 64}.MarshalTo(make([]byte, 4))), ErrBadEvent},
		{"marshal short buffer", second(Event{}.MarshalTo(make([]byte, 3))), io.ErrShortBuffer},
	}
	for _, c := range cases {
		if !errors.Is(c.err, c.want) {
			t.Errorf("%s: error %v, want %v", c.name, c.err, c.want)
		}
	}
}

func second[T any](_ T, err error) error { return err }

func TestDigitCodes(t *testing.T) {
	for code, r := range "0123456789*#ABCD" {
		got, ok := CodeForDigit(r)
		if !ok || int(got) != code {
			t.Errorf("CodeForDigit(%q) = %d, %v; want %d", r, got, ok, code)
		}
		back, ok := DigitForCode(byte(code))
		if !ok || back != r {
			t.Errorf("DigitForCode(%d) = %q, %v; want %q", code, back, ok, r)
		}
	}
	if got, ok := CodeForDigit('c'); !ok || got != 14 {
		t.Errorf("CodeForDigit('c') = %d, %v; want 14", got, ok)
	}
	for _, r := range "EeX +\x00" {
		if _, ok := CodeForDigit(r); ok {
			t.Errorf("CodeForDigit(%q) accepted", r)
		}
	}
	for _, c := range []byte{CodeFlash, 17, 255} {
		if _, ok := DigitForCode(c); ok {
			t.Errorf("DigitForCode(%d) accepted", c)
		}
	}
}

func TestPacketsShape(t *testing.T) {
	evs := Packets(1, 100, 20, 10)
	wantDur := []uint16{160, 320, 480, 640, 800, 800, 800}
	if len(evs) != len(wantDur) {
		t.Fatalf("got %d packets, want %d: %+v", len(evs), len(wantDur), evs)
	}
	for i, e := range evs {
		wantEnd := i >= len(evs)-EndRepeats
		if e.Code != 1 || e.Volume != 10 || e.Duration != wantDur[i] || e.End != wantEnd {
			t.Errorf("packet %d = %+v, want duration %d end %v", i, e, wantDur[i], wantEnd)
		}
	}
}

func TestPacketsEdgeCases(t *testing.T) {
	// A press no longer than one packet is only its End packets.
	if evs := Packets(2, 20, 20, 0); len(evs) != EndRepeats || !evs[0].End || evs[0].Duration != 160 {
		t.Errorf("20 ms press: %+v", evs)
	}
	// A final partial packet interval still ends on the exact duration.
	evs := Packets(3, 50, 20, 0)
	if len(evs) != 2+EndRepeats || evs[1].Duration != 320 || evs[2].Duration != 400 || !evs[2].End {
		t.Errorf("50 ms press: %+v", evs)
	}
	// packetMs <= 0 defaults to 20 ms.
	if evs := Packets(3, 60, 0, 0); len(evs) != 2+EndRepeats || evs[0].Duration != 160 {
		t.Errorf("default packetMs: %+v", evs)
	}
	// Durations beyond the 16-bit field and volumes beyond 6 bits clamp.
	evs = Packets(4, 20000, 20, 200)
	last := evs[len(evs)-1]
	if last.Duration != 65528 || last.Volume != MaxVolume {
		t.Errorf("clamped press ends with %+v", last)
	}
	for i := 1; i < len(evs)-EndRepeats; i++ {
		if evs[i].Duration <= evs[i-1].Duration {
			t.Fatalf("duration does not grow at packet %d: %d after %d", i, evs[i].Duration, evs[i-1].Duration)
		}
	}
	if Packets(17, 100, 20, 0) != nil || Packets(1, 0, 20, 0) != nil {
		t.Error("invalid arguments should yield nil")
	}
}
