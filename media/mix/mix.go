// Package mix mixes the audio of more than two legs: a conference, or a
// supervisor listening to, whispering into or barging into a call. Each
// member hears the sum of the members it is set to hear, never itself.
//
// # Concurrency
//
// Each member's read loop decodes its frames into the member's small
// FIFO (one mutex per member, held for a copy). One goroutine per mix,
// started by New and ended by Close, takes a frame from every FIFO each
// 20 ms, sums what each member hears and writes it to the member's writer.
// Nothing on either path allocates. Close unlinks every reader before the
// goroutine stops and waits for it, so no frame is written after Close
// returns.
package mix

import (
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/ringbridge/ringbridge/media/bridge"
	"github.com/ringbridge/ringbridge/media/g711"
	"github.com/ringbridge/ringbridge/media/rtpio"
)

// frameSamples is 20 ms at 8 kHz, the ptime of every leg we create.
const frameSamples = 160

// fifoFrames bounds what a member may have queued: a late packet is
// caught up with, but a member sending faster than real time cannot make
// the others hear it later and later.
const fifoFrames = 4

// Member is one leg in a mix and the members (indexes) it hears.
type Member struct {
	Leg   bridge.Leg
	Hears []int
	// Beep plays the member a short tone when the mix starts (someone
	// joined: a supervisor listening in, announced).
	Beep bool
}

// The announcement beep: BeepHz for beepFrames (300 ms), quiet enough to
// talk over.
const (
	BeepHz     = 1400
	beepFrames = 15
	beepLevel  = 6000
)

// Tap hears a recording's two channels: bridge.SideA is the first
// member's own voice, bridge.SideB what the first member hears.
type Tap = bridge.Tap

// Mix is a live mix.
type Mix struct {
	members []*member
	tick    time.Duration

	mu     sync.Mutex
	tap    Tap
	closed bool

	stop chan struct{}
	done chan struct{}
}

// member is one leg's state in the mix.
type member struct {
	leg   bridge.Leg
	hears []int
	in    *input

	// Owned by the mixing goroutine.
	beep  int     // frames of the announcement beep still to play
	frame []int16 // this tick's frame from the member (silence if none)
	sum   []int32
	out   []byte
	pkt   rtpio.Frame
}

// New links the members' readers into the mix and starts mixing.
func New(members []Member) (*Mix, error) {
	return newMix(members, 20*time.Millisecond)
}

func newMix(members []Member, tick time.Duration) (*Mix, error) {
	if len(members) < 2 {
		return nil, errors.New("a mix needs at least two members")
	}
	m := &Mix{tick: tick, stop: make(chan struct{}), done: make(chan struct{})}
	for i, mb := range members {
		if mb.Leg == nil {
			return nil, fmt.Errorf("member %d has no leg", i)
		}
		for _, h := range mb.Hears {
			if h < 0 || h >= len(members) || h == i {
				return nil, fmt.Errorf("member %d cannot hear member %d", i, h)
			}
		}
		m.members = append(m.members, &member{
			leg:   mb.Leg,
			hears: append([]int(nil), mb.Hears...),
			in:    &input{},
			frame: make([]int16, frameSamples),
			sum:   make([]int32, frameSamples),
			out:   make([]byte, frameSamples),
		})
		if mb.Beep {
			m.members[i].beep = beepFrames
		}
	}
	for i, mb := range m.members {
		if i == 0 {
			mb.in.owner = m // the first member's voice is the recording's left channel
		}
		mb.leg.Writer().NewSource()
		mb.leg.Reader().Sink.Store(mb.in)
	}
	go m.run()
	return m, nil
}

// SetTap makes t hear the first member's voice and what it hears (nil
// removes the tap).
func (m *Mix) SetTap(t Tap) {
	m.mu.Lock()
	m.tap = t
	m.mu.Unlock()
}

func (m *Mix) currentTap() Tap {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.tap
}

// Hold is part of the connection contract; a mix has no hold of its own
// (who hears whom is the members' business), so it does nothing.
func (m *Mix) Hold(bool) {}

// Close unlinks every member and stops mixing. Idempotent.
func (m *Mix) Close() {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return
	}
	m.closed = true
	m.mu.Unlock()
	for _, mb := range m.members {
		mb.leg.Reader().Sink.CompareAndClear(mb.in)
	}
	close(m.stop)
	<-m.done
}

// String names the members, for logs and tests.
func (m *Mix) String() string {
	s := "mix("
	for i, mb := range m.members {
		if i > 0 {
			s += ", "
		}
		s += fmt.Sprintf("%s hears %v", mb.leg.EndpointID(), mb.hears)
	}
	return s + ")"
}

func (m *Mix) run() {
	defer close(m.done)
	t := time.NewTicker(m.tick)
	defer t.Stop()
	var seq uint16
	var ts uint32
	for {
		select {
		case <-m.stop:
			return
		case <-t.C:
		}
		seq++
		ts += frameSamples
		m.mixOnce(seq, ts)
	}
}

// mixOnce takes one frame from every member and sends each member the sum
// of those it hears.
func (m *Mix) mixOnce(seq uint16, ts uint32) {
	for _, mb := range m.members {
		mb.in.pop(mb.frame)
	}
	tap := m.currentTap()
	for i, mb := range m.members {
		if len(mb.hears) == 0 && mb.beep == 0 && (i != 0 || tap == nil) {
			continue
		}
		clear(mb.sum)
		for _, h := range mb.hears {
			for k, v := range m.members[h].frame {
				mb.sum[k] += int32(v)
			}
		}
		if mb.beep > 0 {
			off := (beepFrames - mb.beep) * frameSamples
			for k := range mb.sum {
				mb.sum[k] += int32(beepWave[(off+k)%len(beepWave)])
			}
			mb.beep--
		}
		codec := mb.leg.Writer().Format().Codec
		if i == 0 && tap != nil {
			m.encode(mb, rtpio.CodecPCMU)
			mb.pkt.Codec = rtpio.CodecPCMU
			mb.pkt.Payload = mb.out
			tap.TapFrame(bridge.SideB, &mb.pkt)
		}
		if len(mb.hears) == 0 && mb.beep == 0 && mb.pkt.Header.SSRC != mixSSRC {
			continue // heard nothing yet and never sent: send nothing
		}
		m.encode(mb, codec)
		mb.pkt = rtpio.Frame{Codec: codec, Payload: mb.out}
		mb.pkt.Header.SSRC = mixSSRC
		mb.pkt.Header.SequenceNumber = seq
		mb.pkt.Header.Timestamp = ts
		mb.leg.Writer().WriteFrame(&mb.pkt)
	}
}

// encode clips a member's sum into its out buffer in codec.
func (m *Mix) encode(mb *member, codec rtpio.Codec) {
	for k, v := range mb.sum {
		s := int16(max(-32768, min(32767, v)))
		if codec == rtpio.CodecPCMA {
			mb.out[k] = g711.EncodeAlaw(s)
		} else {
			mb.out[k] = g711.EncodeUlaw(s)
		}
	}
}

// beepWave is one period-aligned stretch of the beep (1400 Hz repeats
// exactly every 40 samples at 8 kHz).
var beepWave = func() []int16 {
	w := make([]int16, 40)
	for i := range w {
		w[i] = int16(beepLevel * math.Sin(2*math.Pi*BeepHz*float64(i)/8000))
	}
	return w
}()

// mixSSRC marks the mixed stream as a source of its own, so a writer
// keeps its party's timeline continuous across the switch.
const mixSSRC = 0x4D495821

// input is a member's reader sink: it decodes audio frames into a FIFO
// of samples. Telephone-events are not mixed (digits reach cti through
// the reader's DTMF callback all the same).
type input struct {
	owner *Mix // set for the first member: its frames go to the tap

	mu      sync.Mutex
	buf     [fifoFrames * frameSamples]int16
	r, n    int // ring start and length, in samples
	scratch [rtpio.MTU]int16
}

// WriteFrame implements rtpio.Sink.
func (in *input) WriteFrame(f *rtpio.Frame) {
	if in.owner != nil {
		if t := in.owner.currentTap(); t != nil {
			t.TapFrame(bridge.SideA, f)
		}
	}
	var n int
	switch f.Codec {
	case rtpio.CodecPCMU:
		n = g711.DecodeUlawTo(in.scratch[:], f.Payload)
	case rtpio.CodecPCMA:
		n = g711.DecodeAlawTo(in.scratch[:], f.Payload)
	default:
		return
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	for _, s := range in.scratch[:n] {
		if in.n == len(in.buf) { // full: the oldest sample goes
			in.r = (in.r + 1) % len(in.buf)
			in.n--
		}
		in.buf[(in.r+in.n)%len(in.buf)] = s
		in.n++
	}
}

// pop fills dst with the next frame, silence where nothing came.
func (in *input) pop(dst []int16) {
	in.mu.Lock()
	defer in.mu.Unlock()
	k := min(in.n, len(dst))
	for i := range k {
		dst[i] = in.buf[(in.r+i)%len(in.buf)]
	}
	clear(dst[k:])
	in.r = (in.r + k) % len(in.buf)
	in.n -= k
}
