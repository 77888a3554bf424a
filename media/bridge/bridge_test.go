package bridge_test

import (
	"bytes"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/pion/rtp"
	"github.com/ringbridge/ringbridge/media/bridge"
	"github.com/ringbridge/ringbridge/media/g711"
	"github.com/ringbridge/ringbridge/media/rtpio"
)

// testLeg is a bridge.Leg whose writer records what it would send.
type testLeg struct {
	id string
	r  *rtpio.Reader
	w  *rtpio.Writer

	mu    sync.Mutex
	sent  []rtp.Packet
	ssrc  uint32 // the SSRC of packets arriving at r
	wSSRC uint32 // the SSRC w sends with
	seq   uint16
}

var _ bridge.Leg = (*testLeg)(nil)

var lastSSRC atomic.Uint32

func newTestLeg(id string, codec rtpio.Codec) *testLeg {
	f := rtpio.Format{Codec: codec, AudioPT: 0, EventPT: 101}
	if codec == rtpio.CodecPCMA {
		f.AudioPT = 8
	}
	l := &testLeg{id: id, r: rtpio.NewReader(f), ssrc: lastSSRC.Add(1), wSSRC: 0x1000 + lastSSRC.Add(1)}
	l.w = rtpio.NewWriter(l.wSSRC, f, l.out)
	return l
}

func (l *testLeg) Reader() *rtpio.Reader { return l.r }
func (l *testLeg) Writer() *rtpio.Writer { return l.w }
func (l *testLeg) EndpointID() string    { return l.id }

func (l *testLeg) out(h *rtp.Header, payload []byte, _ *rtpio.SendQueue) error {
	l.mu.Lock()
	l.sent = append(l.sent, rtp.Packet{Header: h.Clone(), Payload: slices.Clone(payload)})
	l.mu.Unlock()
	return nil
}

func (l *testLeg) packets() []rtp.Packet {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.sent)
}

// receive plays one packet arriving from this leg's party, in its own
// codec, and returns the payload.
func (l *testLeg) receive(t *testing.T) []byte {
	t.Helper()
	f := l.r.Format()
	payload := make([]byte, 160)
	for i := range payload {
		payload[i] = byte(int(l.seq) + i)
	}
	l.seq++
	b, err := (&rtp.Packet{
		Header:  rtp.Header{Version: 2, PayloadType: f.AudioPT, SequenceNumber: l.seq, Timestamp: uint32(l.seq) * 160, SSRC: l.ssrc},
		Payload: payload,
	}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	l.r.Deliver(b)
	return payload
}

func convert(p []byte, fn func(byte) byte) []byte {
	out := make([]byte, len(p))
	for i, b := range p {
		out[i] = fn(b)
	}
	return out
}

// expectSent checks how many packets l has sent so far.
func expectSent(t *testing.T, l *testLeg, n int) []rtp.Packet {
	t.Helper()
	got := l.packets()
	if len(got) != n {
		t.Fatalf("%s sent %d packets, want %d", l.id, len(got), n)
	}
	return got
}

func TestConnectLinksBothWays(t *testing.T) {
	a := newTestLeg("a", rtpio.CodecPCMU)
	b := newTestLeg("b", rtpio.CodecPCMA)
	c := bridge.Connect(a, b)
	defer c.Close()

	fromA := a.receive(t)
	got := expectSent(t, b, 1)[0]
	if got.PayloadType != 8 || !bytes.Equal(got.Payload, convert(fromA, g711.UlawToAlaw)) {
		t.Errorf("a→b: PT %d, payload converted to PCMA: %v", got.PayloadType,
			bytes.Equal(got.Payload, convert(fromA, g711.UlawToAlaw)))
	}
	if !got.Marker || got.SSRC != b.wSSRC {
		t.Errorf("a→b: marker %v SSRC %#x, want true %#x", got.Marker, got.SSRC, b.wSSRC)
	}

	fromB := b.receive(t)
	got = expectSent(t, a, 1)[0]
	if got.PayloadType != 0 || !bytes.Equal(got.Payload, convert(fromB, g711.AlawToUlaw)) {
		t.Errorf("b→a: PT %d, payload converted to PCMU: %v", got.PayloadType,
			bytes.Equal(got.Payload, convert(fromB, g711.AlawToUlaw)))
	}
	a.receive(t)
	expectSent(t, b, 2)
	expectSent(t, a, 1)
}

func TestConnectionString(t *testing.T) {
	cases := []struct {
		a, b *testLeg
		want string
	}{
		{newTestLeg("a", rtpio.CodecPCMU), newTestLeg("b", rtpio.CodecPCMA), "a[PCMU] <-> b[PCMA]"},
		{newTestLeg("agent:1001", rtpio.CodecPCMU), newTestLeg("sip:abc@10.0.0.1", rtpio.CodecPCMU),
			"agent:1001[PCMU] <-> sip:abc@10.0.0.1[PCMU]"},
	}
	for _, tc := range cases {
		c := bridge.Connect(tc.a, tc.b)
		if got := c.String(); got != tc.want {
			t.Errorf("String() = %q, want %q", got, tc.want)
		}
		c.Close()
	}
	// A re-INVITE changing a leg's codec shows in the chain.
	a, b := newTestLeg("a", rtpio.CodecPCMU), newTestLeg("b", rtpio.CodecPCMU)
	c := bridge.Connect(a, b)
	defer c.Close()
	b.w.SetFormat(rtpio.Format{Codec: rtpio.CodecPCMA, AudioPT: 8})
	if got, want := c.String(), "a[PCMU] <-> b[PCMA]"; got != want {
		t.Errorf("after SetFormat: String() = %q, want %q", got, want)
	}
}

func TestHoldUnlinksAndRelinks(t *testing.T) {
	a := newTestLeg("a", rtpio.CodecPCMU)
	b := newTestLeg("b", rtpio.CodecPCMU)
	c := bridge.Connect(a, b)
	defer c.Close()
	a.receive(t)
	b.receive(t)

	c.Hold(true)
	c.Hold(true) // no-op
	a.receive(t)
	b.receive(t)
	expectSent(t, a, 1)
	expectSent(t, b, 1)
	if a.r.Sink.Load() != nil || b.r.Sink.Load() != nil {
		t.Error("held connection still linked")
	}

	c.Hold(false)
	c.Hold(false) // no-op
	a.receive(t)
	b.receive(t)
	for _, l := range []*testLeg{a, b} {
		got := expectSent(t, l, 2)
		// The stream toward each party continues across the hold, and the
		// resumed audio is marked as a new talkspurt.
		if got[1].SequenceNumber != got[0].SequenceNumber+1 || got[1].Timestamp != got[0].Timestamp+160 {
			t.Errorf("%s: seq %d→%d ts %d→%d across hold, want +1 and +160", l.id,
				got[0].SequenceNumber, got[1].SequenceNumber, got[0].Timestamp, got[1].Timestamp)
		}
		if !got[1].Marker {
			t.Errorf("%s: no marker on the first packet after unhold", l.id)
		}
	}
}

func TestCloseIsIdempotent(t *testing.T) {
	a := newTestLeg("a", rtpio.CodecPCMU)
	b := newTestLeg("b", rtpio.CodecPCMA)
	c := bridge.Connect(a, b)
	c.Close()
	c.Close()
	a.receive(t)
	b.receive(t)
	expectSent(t, a, 0)
	expectSent(t, b, 0)
	// Hold and unhold after Close do not bring the link back.
	c.Hold(true)
	c.Hold(false)
	a.receive(t)
	expectSent(t, b, 0)
	if a.r.Sink.Load() != nil || b.r.Sink.Load() != nil {
		t.Error("closed connection relinked")
	}
}

// A leg moved to another party (a transfer, the next call on an agent's
// peer connection) must keep its new link when the old connection closes
// or is put on hold late.
func TestCloseDoesNotUnlinkNewerConnection(t *testing.T) {
	agent := newTestLeg("agent", rtpio.CodecPCMU)
	first := newTestLeg("first", rtpio.CodecPCMA)
	second := newTestLeg("second", rtpio.CodecPCMU)

	old := bridge.Connect(agent, first)
	newer := bridge.Connect(agent, second)
	defer newer.Close()

	old.Hold(true)
	old.Close()
	old.Close()

	agent.receive(t)
	second.receive(t)
	expectSent(t, second, 1)
	expectSent(t, agent, 1)
	// The old party is cut off both ways.
	first.receive(t)
	expectSent(t, agent, 1)
	expectSent(t, first, 0)

	// Closing the newer one unlinks it.
	newer.Close()
	agent.receive(t)
	second.receive(t)
	expectSent(t, second, 1)
	expectSent(t, agent, 1)
}

// tapLog remembers what a tap heard, per side.
type tapLog struct {
	mu    sync.Mutex
	heard [2][][]byte
	codec [2]rtpio.Codec
}

func (l *tapLog) TapFrame(side int, f *rtpio.Frame) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.heard[side] = append(l.heard[side], slices.Clone(f.Payload))
	l.codec[side] = f.Codec
}

func (l *tapLog) count(side int) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.heard[side])
}

// A tap hears each relayed frame with its side, in the codec it arrived
// in (before the writer converts it in place), and hears nothing while
// the connection is held or after it is closed.
func TestTapHearsBothSidesBeforeConversion(t *testing.T) {
	a := newTestLeg("a", rtpio.CodecPCMU)
	b := newTestLeg("b", rtpio.CodecPCMA)
	c := bridge.Connect(a, b)
	tap := &tapLog{}
	c.SetTap(tap)
	if got := c.String(); got != "a[PCMU] <-> b[PCMA] +tap" {
		t.Fatalf("chain %q", got)
	}

	fromA := a.receive(t)
	fromB := b.receive(t)
	if !bytes.Equal(tap.heard[bridge.SideA][0], fromA) || tap.codec[bridge.SideA] != rtpio.CodecPCMU {
		t.Fatal("the tap did not hear a's frame as a sent it")
	}
	if !bytes.Equal(tap.heard[bridge.SideB][0], fromB) || tap.codec[bridge.SideB] != rtpio.CodecPCMA {
		t.Fatal("the tap did not hear b's frame as b sent it")
	}
	expectSent(t, b, 1)
	expectSent(t, a, 1)

	c.Hold(true)
	a.receive(t)
	c.Hold(false)
	a.receive(t)
	if tap.count(bridge.SideA) != 2 {
		t.Fatalf("tap heard %d frames from a, want 2 (none while held)", tap.count(bridge.SideA))
	}
	c.Close()
	a.receive(t)
	if tap.count(bridge.SideA) != 2 {
		t.Fatal("tap heard a frame after Close")
	}

	// A tap set on an old connection never hijacks a newer one.
	c2 := bridge.Connect(a, b)
	defer c2.Close()
	c.SetTap(&tapLog{})
	a.receive(t)
	expectSent(t, b, 3)
}
