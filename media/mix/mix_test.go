package mix

import (
	"math"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/ringbridge/ringbridge/media/bridge"
	"github.com/ringbridge/ringbridge/media/g711"
	"github.com/ringbridge/ringbridge/media/rtpio"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// leg is a bridge.Leg whose writer keeps what it would send, decoded.
type leg struct {
	id   string
	r    *rtpio.Reader
	w    *rtpio.Writer
	seq  uint16
	mu   sync.Mutex
	sent [][]int16
}

func newLeg(id string, codec rtpio.Codec) *leg {
	f := rtpio.Format{Codec: codec, EventPT: 101}
	if codec == rtpio.CodecPCMA {
		f.AudioPT = 8
	}
	l := &leg{id: id, r: rtpio.NewReader(f)}
	l.w = rtpio.NewWriter(0xABC, f, func(h *rtp.Header, p []byte, _ *rtpio.SendQueue) error {
		pcm := make([]int16, len(p))
		if h.PayloadType == 8 {
			g711.DecodeAlawTo(pcm, p)
		} else {
			g711.DecodeUlawTo(pcm, p)
		}
		l.mu.Lock()
		l.sent = append(l.sent, pcm)
		l.mu.Unlock()
		return nil
	})
	return l
}

func (l *leg) Reader() *rtpio.Reader { return l.r }
func (l *leg) Writer() *rtpio.Writer { return l.w }
func (l *leg) EndpointID() string    { return l.id }

// say delivers one 20 ms frame of a constant level from the leg's party.
func (l *leg) say(t *testing.T, level int16) {
	t.Helper()
	f := l.r.Format()
	p := make([]byte, frameSamples)
	for i := range p {
		if f.Codec == rtpio.CodecPCMA {
			p[i] = g711.EncodeAlaw(level)
		} else {
			p[i] = g711.EncodeUlaw(level)
		}
	}
	l.seq++
	b, err := (&rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: f.AudioPT, SequenceNumber: l.seq, Timestamp: uint32(l.seq) * 160, SSRC: 7}, Payload: p}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	l.r.Deliver(b)
}

func (l *leg) last() []int16 {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.sent) == 0 {
		return nil
	}
	return l.sent[len(l.sent)-1]
}

func (l *leg) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.sent)
}

func near(got []int16, want int) bool {
	if len(got) != frameSamples {
		return false
	}
	for _, v := range got {
		if math.Abs(float64(int(v)-want)) > float64(want)/16+16 {
			return false
		}
	}
	return true
}

// A listen/whisper-like matrix: each member hears exactly its set, in its
// own codec, and a member who hears nobody is sent nothing.
func TestEachMemberHearsItsSet(t *testing.T) {
	agent, caller, sup := newLeg("agent", rtpio.CodecPCMU), newLeg("caller", rtpio.CodecPCMA), newLeg("sup", rtpio.CodecPCMU)
	m, err := newMix([]Member{
		{Leg: agent, Hears: []int{1, 2}}, // whisper: the agent hears both
		{Leg: caller, Hears: []int{0}},   // the caller only the agent
		{Leg: sup, Hears: []int{0, 1}},   // the supervisor both
	}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	agent.say(t, 1000)
	caller.say(t, 2000)
	sup.say(t, 4000)
	m.mixOnce(1, 160)
	if got := agent.last(); !near(got, 6000) {
		t.Errorf("agent heard %v…, want caller+supervisor ≈ 6000", head(got))
	}
	if got := caller.last(); !near(got, 1000) {
		t.Errorf("caller heard %v…, want the agent alone ≈ 1000", head(got))
	}
	if got := sup.last(); !near(got, 3000) {
		t.Errorf("supervisor heard %v…, want agent+caller ≈ 3000", head(got))
	}

	// Next tick with nobody talking: silence, not the last frame again.
	m.mixOnce(2, 320)
	if got := agent.last(); !near(got, 0) {
		t.Errorf("agent heard %v… in a silent tick", head(got))
	}
}

func TestSilentMemberIsSentNothingAndSumsClip(t *testing.T) {
	a, b, c := newLeg("a", rtpio.CodecPCMU), newLeg("b", rtpio.CodecPCMU), newLeg("c", rtpio.CodecPCMU)
	m, err := newMix([]Member{{Leg: a, Hears: []int{1, 2}}, {Leg: b}, {Leg: c}}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	b.say(t, 30000)
	c.say(t, 30000)
	m.mixOnce(1, 160)
	if b.count() != 0 || c.count() != 0 {
		t.Errorf("members hearing nobody were sent %d and %d frames", b.count(), c.count())
	}
	if got := a.last(); len(got) == 0 || got[0] < 30000 {
		t.Errorf("a clipped sum of two loud parties reads %v…, want near full scale", head(got))
	}
}

func TestTapHearsFirstMemberAndWhatItHears(t *testing.T) {
	a, b := newLeg("a", rtpio.CodecPCMU), newLeg("b", rtpio.CodecPCMA)
	m, err := newMix([]Member{{Leg: a, Hears: []int{1}}, {Leg: b, Hears: []int{0}}}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	tap := &recTap{}
	m.SetTap(tap)
	a.say(t, 1000)
	b.say(t, 3000)
	m.mixOnce(1, 160)
	if !near(tap.side(bridge.SideA), 1000) || !near(tap.side(bridge.SideB), 3000) {
		t.Errorf("tap heard left %v… right %v…, want 1000 and 3000", head(tap.side(bridge.SideA)), head(tap.side(bridge.SideB)))
	}
}

func TestCloseUnlinksAndStops(t *testing.T) {
	a, b := newLeg("a", rtpio.CodecPCMU), newLeg("b", rtpio.CodecPCMU)
	m, err := New([]Member{{Leg: a, Hears: []int{1}}, {Leg: b, Hears: []int{0}}})
	if err != nil {
		t.Fatal(err)
	}
	m.Close()
	m.Close()
	if a.r.Sink.Load() != nil || b.r.Sink.Load() != nil {
		t.Fatal("readers still linked after Close")
	}
	n := a.count()
	b.say(t, 1000)
	time.Sleep(60 * time.Millisecond) // three ticks: none may write
	if a.count() != n {
		t.Errorf("a was sent %d frames after Close", a.count()-n)
	}
}

func TestRefusesBadMembers(t *testing.T) {
	a, b := newLeg("a", rtpio.CodecPCMU), newLeg("b", rtpio.CodecPCMU)
	for _, ms := range [][]Member{
		{{Leg: a}},
		{{Leg: a, Hears: []int{0}}, {Leg: b}},
		{{Leg: a, Hears: []int{2}}, {Leg: b}},
		{{Leg: a}, {}},
	} {
		if m, err := New(ms); err == nil {
			m.Close()
			t.Errorf("New(%v) accepted", ms)
		}
	}
}

func TestFIFOBoundsDelay(t *testing.T) {
	a, b := newLeg("a", rtpio.CodecPCMU), newLeg("b", rtpio.CodecPCMU)
	m, err := newMix([]Member{{Leg: a, Hears: []int{1}}, {Leg: b}}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	for i := range 10 { // a burst: only the newest fifoFrames stay
		b.say(t, int16(100*(i+1)))
	}
	m.mixOnce(1, 160)
	if got := a.last(); !near(got, 100*(10-fifoFrames+1)) {
		t.Errorf("after a burst a heard %v…, want the oldest frame kept (%d)", head(got), 100*(10-fifoFrames+1))
	}
}

func BenchmarkMixOnce(b *testing.B) {
	legs := []*leg{newLeg("a", rtpio.CodecPCMU), newLeg("b", rtpio.CodecPCMA), newLeg("c", rtpio.CodecPCMU)}
	for _, l := range legs {
		l.w = rtpio.NewWriter(1, l.r.Format(), func(*rtp.Header, []byte, *rtpio.SendQueue) error { return nil })
	}
	m, err := newMix([]Member{{Leg: legs[0], Hears: []int{1, 2}}, {Leg: legs[1], Hears: []int{0, 2}}, {Leg: legs[2], Hears: []int{0, 1}}}, time.Hour)
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		m.mixOnce(uint16(i), uint32(i)*160)
	}
}

type recTap struct {
	mu    sync.Mutex
	sides [2][]int16
}

func (r *recTap) TapFrame(side int, f *rtpio.Frame) {
	pcm := make([]int16, len(f.Payload))
	if f.Codec == rtpio.CodecPCMA {
		g711.DecodeAlawTo(pcm, f.Payload)
	} else {
		g711.DecodeUlawTo(pcm, f.Payload)
	}
	r.mu.Lock()
	r.sides[side] = pcm
	r.mu.Unlock()
}

func (r *recTap) side(s int) []int16 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.sides[s])
}

func head(s []int16) []int16 { return s[:min(4, len(s))] }
