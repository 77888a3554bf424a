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

// Connection is a live link between two legs.
type Connection struct {
	a, b Leg

	mu     sync.Mutex
	held   bool
	closed bool
}

// Connect links a and b both ways.
func Connect(a, b Leg) *Connection {
	c := &Connection{a: a, b: b}
	c.link()
	return c
}

func (c *Connection) link() {
	c.a.Writer().NewSource()
	c.b.Writer().NewSource()
	c.a.Reader().Sink.Store(c.b.Writer())
	c.b.Reader().Sink.Store(c.a.Writer())
}

func (c *Connection) unlink() {
	c.a.Reader().Sink.CompareAndClear(c.b.Writer())
	c.b.Reader().Sink.CompareAndClear(c.a.Writer())
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

// String prints the chain, for logs and tests: "a[PCMU] <-> b[PCMA]".
func (c *Connection) String() string {
	return fmt.Sprintf("%s[%s] <-> %s[%s]", c.a.EndpointID(), c.a.Writer().Format().Codec,
		c.b.EndpointID(), c.b.Writer().Format().Codec)
}
