package rtpio

import (
	"errors"
	"sync/atomic"
	"time"

	"github.com/ringbridge/ringbridge/media/dtmf"
)

// Errors of the RTP plumbing.
var (
	ErrNoTelephoneEvent = errors.New("the far end did not negotiate telephone-event")
	ErrBadDigit         = errors.New("not a DTMF digit")
)

// Reader is the receiving half of a leg: it classifies packets by payload
// type, reports RFC 4733 digits once each, and hands frames to the linked
// sink. One goroutine (the leg's read loop) calls Deliver.
type Reader struct {
	Sink SinkSlot

	format   atomic.Pointer[Format]
	onDTMF   atomic.Pointer[func(rune)]
	received atomic.Uint64
	dropped  atomic.Uint64

	rx     dtmf.Receiver
	inband atomic.Pointer[inband] // nil unless the far end sends no RFC 4733
	frame  Frame
	// stats are the reception statistics (quality.go).
	stats reception
}

// NewReader returns a reader expecting format f.
func NewReader(f Format) *Reader {
	r := &Reader{}
	r.SetFormat(f)
	return r
}

// SetFormat changes the expected payload types. A format without
// telephone events turns on in-band DTMF detection (inband.go).
func (r *Reader) SetFormat(f Format) {
	r.format.Store(&f)
	r.setInband(f)
}

// Format returns the expected payload types.
func (r *Reader) Format() Format { return *r.format.Load() }

// OnDTMF sets the callback for received digits (called on the read loop;
// must not block).
func (r *Reader) OnDTMF(fn func(rune)) { r.onDTMF.Store(&fn) }

// Received and Dropped count packets, for metrics and tests.
func (r *Reader) Received() uint64 { return r.received.Load() }
func (r *Reader) Dropped() uint64  { return r.dropped.Load() }

// Deliver processes one raw RTP packet. buf is only borrowed.
func (r *Reader) Deliver(buf []byte) { r.DeliverQueued(buf, nil) }

// DeliverQueued is Deliver on a poller's round: what the sinks send may
// wait in q for the round's end (Frame.Sends).
func (r *Reader) DeliverQueued(buf []byte, q *SendQueue) {
	if r.parse(buf) == verdictMedia {
		r.forwardVia(q)
	}
}

// forwardVia is forward with the frame carrying q (Frame.Sends) for as
// long as the sinks have it.
func (r *Reader) forwardVia(q *SendQueue) {
	r.frame.Sends = q
	r.forward()
	r.frame.Sends = nil
}

// verdict is what parse made of a packet.
type verdict uint8

const (
	verdictBad   verdict = iota // not RTP (or malformed): dropped
	verdictOther                // RTP, but a payload type we do not relay: dropped
	verdictMedia                // audio or telephone-event, ready to forward
)

// parse reads buf into r.frame and classifies it, counting drops. A leg's
// read loop latches only on verdictMedia, so junk cannot steal the latch.
func (r *Reader) parse(buf []byte) verdict {
	f := &r.frame
	n, err := f.Header.Unmarshal(buf)
	if err != nil || f.Header.Version != 2 {
		r.drop()
		return verdictBad
	}
	payload := buf[n:]
	if f.Header.Padding && len(payload) > 0 {
		pad := int(payload[len(payload)-1])
		if pad > len(payload) {
			r.drop()
			return verdictBad
		}
		payload = payload[:len(payload)-pad]
	}
	r.received.Add(1)
	totalReceived.Add(1)
	format := r.format.Load()
	switch f.Header.PayloadType {
	case format.AudioPT:
		f.Codec = format.Codec
	case format.EventPT:
		if format.EventPT == 0 {
			r.drop()
			return verdictOther
		}
		f.Codec = CodecEvent
	default:
		r.drop() // comfort noise, unknown codecs: nothing to relay
		return verdictOther
	}
	f.Payload = payload
	r.stats.update(&f.Header, f.Codec != CodecEvent, time.Now().UnixNano())
	return verdictMedia
}

// Reception returns the statistics of what the reader received.
func (r *Reader) Reception() Reception { return r.stats.read() }

// forward reports digits and hands the parsed frame to the linked sink.
func (r *Reader) forward() {
	f := &r.frame
	if f.Codec == CodecEvent {
		if d, ok, _ := r.rx.Push(f.Header.Timestamp, f.Payload); ok {
			if fn := r.onDTMF.Load(); fn != nil && *fn != nil {
				(*fn)(d)
			}
		}
	} else if in := r.inband.Load(); in != nil {
		for _, d := range in.detect(f) {
			if fn := r.onDTMF.Load(); fn != nil && *fn != nil {
				(*fn)(d)
			}
		}
	}
	if s := r.Sink.Load(); s != nil {
		s.WriteFrame(f)
	}
}

// EmitDTMF reports a digit learnt out of band (SIP INFO) as if it had
// arrived as an RFC 4733 event.
func (r *Reader) EmitDTMF(d rune) {
	if fn := r.onDTMF.Load(); fn != nil && *fn != nil {
		(*fn)(d)
	}
}

func (r *Reader) drop() {
	r.dropped.Add(1)
	totalDropped.Add(1)
}
