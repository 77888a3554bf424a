// Package bridge links two legs' media: each leg's reader feeds the other
// leg's writer directly, on the reader's own goroutine. There is no
// goroutine, queue or lock per call here; linking is two atomic stores.
// Codec conversion (PCMU ↔ PCMA) and stream continuity happen in the
// writers (package rtpio).
package bridge

import (
	"fmt"
	"sync"

	"github.com/ringbridge/ringbridge/media/rtpio"
)

// Leg is anything with a media source and sink.
type Leg interface {
	Reader() *rtpio.Reader
	Writer() *rtpio.Writer
	EndpointID() string
}

// Tap hears the frames a connection relays (a call recorder). side is
// SideA for frames from the first leg, SideB for the second. It is called
// on the source leg's read loop before the other leg's writer converts the
// payload in place, so it must not keep the frame or block.
type Tap interface {
	TapFrame(side int, f *rtpio.Frame)
}

// Sides of a connection, as a Tap hears them.
const (
	SideA = 0
	SideB = 1
)

// Connection is a live link between two legs.
type Connection struct {
	a, b Leg

	mu     sync.Mutex
	toB    rtpio.Sink // what a's reader feeds: b's writer, or a tap in front of it
	toA    rtpio.Sink
	tap    Tap
	held   bool
	closed bool
}

// Connect links a and b both ways.
func Connect(a, b Leg) *Connection {
	c := &Connection{a: a, b: b, toB: b.Writer(), toA: a.Writer()}
	c.link()
	return c
}

// ConnectHeld returns a connection of a and b on hold: nothing is linked
// until Hold(false). A held call must not take a leg's source even for an
// instant — an agent's microphone may belong to another call meanwhile.
func ConnectHeld(a, b Leg) *Connection {
	return &Connection{a: a, b: b, toB: b.Writer(), toA: a.Writer(), held: true}
}

func (c *Connection) link() {
	c.a.Writer().NewSource()
	c.b.Writer().NewSource()
	c.a.Reader().Sink.Store(c.toB)
	c.b.Reader().Sink.Store(c.toA)
}

func (c *Connection) unlink() {
	c.a.Reader().Sink.CompareAndClear(c.toB)
	c.b.Reader().Sink.CompareAndClear(c.toA)
}

// SetTap makes t hear every frame relayed from now on, both ways (nil
// removes the tap). The switch is atomic per direction: no frame is
// relayed twice or lost.
func (c *Connection) SetTap(t Tap) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed || c.tap == t {
		return
	}
	toB, toA := rtpio.Sink(c.b.Writer()), rtpio.Sink(c.a.Writer())
	if t != nil {
		toB = &tapSink{tap: t, side: SideA, next: c.b.Writer()}
		toA = &tapSink{tap: t, side: SideB, next: c.a.Writer()}
	}
	if !c.held {
		c.a.Reader().Sink.CompareAndSwap(c.toB, toB)
		c.b.Reader().Sink.CompareAndSwap(c.toA, toA)
	}
	c.toB, c.toA, c.tap = toB, toA, t
}

// tapSink hands a frame to the tap, then to the real sink.
type tapSink struct {
	tap  Tap
	side int
	next *rtpio.Writer
}

func (s *tapSink) WriteFrame(f *rtpio.Frame) {
	s.tap.TapFrame(s.side, f)
	s.next.WriteFrame(f)
}

// Hold stops (on) or resumes the audio both ways.
func (c *Connection) Hold(on bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed || c.held == on {
		return
	}
	c.held = on
	if on {
		c.unlink()
	} else {
		c.link()
	}
}

// Close unlinks the legs. Idempotent; it never touches a newer link that
// replaced this one.
func (c *Connection) Close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return
	}
	c.closed = true
	c.unlink()
}

// String prints the chain, for logs and tests: "a[PCMU] <-> b[PCMA]",
// with " +tap" (or the tap's own name) when a tap listens.
func (c *Connection) String() string {
	s := fmt.Sprintf("%s[%s] <-> %s[%s]", c.a.EndpointID(), c.a.Writer().Format().Codec,
		c.b.EndpointID(), c.b.Writer().Format().Codec)
	c.mu.Lock()
	t := c.tap
	c.mu.Unlock()
	if t != nil {
		if st, ok := t.(fmt.Stringer); ok {
			return s + " +" + st.String()
		}
		return s + " +tap"
	}
	return s
}
