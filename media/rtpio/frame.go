package rtpio

import (
	"sync/atomic"

	"github.com/pion/rtp"
)

// Codec is the payload format of a frame.
type Codec uint8

const (
	CodecNone  Codec = iota
	CodecPCMU        // G.711 μ-law, static PT 0
	CodecPCMA        // G.711 A-law, static PT 8
	CodecEvent       // RFC 4733 telephone-event
)

func (c Codec) String() string {
	switch c {
	case CodecPCMU:
		return "PCMU"
	case CodecPCMA:
		return "PCMA"
	case CodecEvent:
		return "telephone-event"
	}
	return "none"
}

// MTU bounds every RTP buffer; one extra byte detects oversized packets.
const MTU = 1500

// Frame is one RTP packet on its way from a source leg to a sink. The
// payload belongs to the source's read loop and is valid only during
// WriteFrame; a sink may transform it in place.
type Frame struct {
	Header  rtp.Header
	Payload []byte
	Codec   Codec
	// Sends is where the packets made of this frame may wait to leave
	// with the rest of a poller's round (nil: send at once). Set by a
	// reader on a poller; only that poller's goroutine uses it.
	Sends *SendQueue
}

// Sink receives frames from a linked source.
type Sink interface {
	WriteFrame(f *Frame)
}

// SinkSlot is where a source finds its current sink. The zero value has
// none.
type SinkSlot struct {
	p atomic.Pointer[sinkBox]
}

// sinkBox exists because atomic.Pointer needs a concrete type.
type sinkBox struct{ s Sink }

// Load returns the current sink or nil.
func (s *SinkSlot) Load() Sink {
	if b := s.p.Load(); b != nil {
		return b.s
	}
	return nil
}

// Store links sink (nil unlinks).
func (s *SinkSlot) Store(sink Sink) {
	if sink == nil {
		s.p.Store(nil)
		return
	}
	s.p.Store(&sinkBox{sink})
}

// CompareAndClear unlinks only if sink is still the one linked, so closing
// an old connection cannot unlink a newer one.
func (s *SinkSlot) CompareAndClear(sink Sink) {
	for {
		b := s.p.Load()
		if b == nil || b.s != sink {
			return
		}
		if s.p.CompareAndSwap(b, nil) {
			return
		}
	}
}

// CompareAndSwap links next only if old is still the one linked, so a
// connection changing its own sink cannot overwrite a newer connection's.
func (s *SinkSlot) CompareAndSwap(old, next Sink) bool {
	for {
		b := s.p.Load()
		if b == nil || b.s != old {
			return false
		}
		if s.p.CompareAndSwap(b, &sinkBox{next}) {
			return true
		}
	}
}
