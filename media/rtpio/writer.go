package rtpio

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"
	"github.com/ringbridge/ringbridge/media/dtmf"
	"github.com/ringbridge/ringbridge/media/g711"
)

// Format is what one leg negotiated: its audio codec and payload types.
type Format struct {
	Codec   Codec
	AudioPT uint8
	EventPT uint8 // 0 when the far end takes no telephone-events
}

// OutFunc sends one finished packet on a leg's transport, through q
// when q is not nil (the frame's Sends: the packet may wait for the end
// of the poller's round).
type OutFunc func(h *rtp.Header, payload []byte, q *SendQueue) error

// Writer is the sending half of a leg: it maps payload types, converts
// G.711 flavours, keeps the outgoing stream continuous and injects RFC 4733
// digits. It implements Sink.
type Writer struct {
	out       OutFunc
	injecting atomic.Bool
	sent      atomic.Uint64
	// holes counts sequence numbers of our stream that were never sent:
	// gaps relayed from a lossy source, packets the transport refused.
	// A receiver reports them as lost; they are not its network's doing.
	holes atomic.Uint64

	// dtmfMu queues SendDTMF calls: legs start one per request, and two
	// overlapping injections would interleave packets of equal timestamps
	// that the far end decodes as one digit.
	dtmfMu sync.Mutex

	mu     sync.Mutex
	format Format
	ssrc   uint32
	stream Stream
	lastTS uint32
	hdr    rtp.Header // reused so WriteFrame allocates nothing
}

// NewWriter returns a writer sending with ssrc through out.
func NewWriter(ssrc uint32, f Format, out OutFunc) *Writer {
	return &Writer{out: out, ssrc: ssrc, format: f}
}

// SetFormat changes the negotiated format (a re-INVITE may do that).
func (w *Writer) SetFormat(f Format) {
	w.mu.Lock()
	w.format = f
	w.mu.Unlock()
}

// SetSSRC changes the SSRC (pion tells us on Bind).
func (w *Writer) SetSSRC(ssrc uint32) {
	w.mu.Lock()
	w.ssrc = ssrc
	w.mu.Unlock()
}

// Format returns the negotiated format.
func (w *Writer) Format() Format {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.format
}

// Sent returns how many packets went out.
func (w *Writer) Sent() uint64 { return w.sent.Load() }

// LastTimestamp returns the RTP timestamp of the last packet sent.
func (w *Writer) LastTimestamp() uint32 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.lastTS
}

// NewSource makes the next frame start a new source (marker bit, fresh
// offsets); called when the writer is linked to another party.
func (w *Writer) NewSource() {
	w.mu.Lock()
	w.stream.Reset()
	w.mu.Unlock()
}

// WriteFrame implements Sink.
func (w *Writer) WriteFrame(f *Frame) {
	if w.injecting.Load() {
		// Our own digits own the stream for now. Relayed events are
		// dropped too: a late redundant end packet from the other party
		// would be re-timestamped as a new event and heard twice.
		return
	}
	w.mu.Lock()
	w.writeLocked(f)
	w.mu.Unlock()
}

func (w *Writer) writeLocked(f *Frame) {
	var pt uint8
	switch {
	case f.Codec == CodecEvent:
		if w.format.EventPT == 0 {
			return
		}
		pt = w.format.EventPT
	case f.Codec == w.format.Codec:
		pt = w.format.AudioPT
	case f.Codec == CodecPCMU && w.format.Codec == CodecPCMA:
		g711.UlawToAlawInPlace(f.Payload)
		pt = w.format.AudioPT
	case f.Codec == CodecPCMA && w.format.Codec == CodecPCMU:
		g711.AlawToUlawInPlace(f.Payload)
		pt = w.format.AudioPT
	default:
		return
	}
	h := &w.hdr
	h.Version = 2
	h.Padding = false
	h.Extension = false
	h.Extensions = nil
	h.CSRC = nil
	h.Marker = f.Header.Marker
	h.PayloadType = pt
	h.SequenceNumber = f.Header.SequenceNumber
	h.Timestamp = f.Header.Timestamp
	h.SSRC = f.Header.SSRC
	started, prev := w.stream.started, w.stream.lastSeq
	newSource := w.stream.Rewrite(h)
	if newSource && f.Codec != CodecEvent {
		h.Marker = true
	}
	if d := h.SequenceNumber - prev; started && !newSource && d > 1 && d < maxDropout {
		w.holes.Add(uint64(d - 1))
	}
	h.SSRC = w.ssrc
	w.lastTS = h.Timestamp
	if w.out(h, f.Payload, f.Sends) == nil {
		w.sent.Add(1)
		totalSent.Add(1)
	} else {
		w.holes.Add(1)
	}
}

// Holes counts the sequence numbers of our stream never sent (relayed
// gaps, refused packets): what a receiver counts as lost without any
// fault of its network.
func (w *Writer) Holes() uint64 { return w.holes.Load() }

// injectSSRC marks frames we generate ourselves, so the stream rewriter
// sees them as a separate source and keeps the timeline continuous.
const injectSSRC = 0x0D7F0D7F

// SendDTMF plays digits as RFC 4733 events, 100 ms each with 60 ms gaps,
// muting relayed audio meanwhile. It blocks until done or ctx ends; calls
// overlapping in time play one after the other. A string with any
// non-digit is refused whole (ErrBadDigit) before anything is sent.
func (w *Writer) SendDTMF(ctx context.Context, digits string) error {
	if w.Format().EventPT == 0 {
		return ErrNoTelephoneEvent
	}
	for _, r := range digits {
		if _, ok := dtmf.CodeForDigit(r); !ok {
			return ErrBadDigit
		}
	}
	w.dtmfMu.Lock()
	defer w.dtmfMu.Unlock()
	if err := ctx.Err(); err != nil {
		return err
	}
	w.injecting.Store(true)
	defer w.injecting.Store(false)
	// Every call starts its own timeline at seq 0, ts 0 under the same
	// SSRC; without a new source a second call would repeat the first
	// one's timestamps and the far end would discard its digits as
	// duplicates.
	w.mu.Lock()
	w.stream.Reset()
	w.mu.Unlock()
	var (
		seq     uint16
		ts      uint32
		payload [4]byte
		f       Frame
	)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for i, r := range digits {
		code, ok := dtmf.CodeForDigit(r)
		if !ok {
			return ErrBadDigit
		}
		if i > 0 {
			ts += (100 + 60) * 8
			// The inter-digit gap: three ticks of nothing.
			for range 3 {
				select {
				case <-tick.C:
				case <-ctx.Done():
					return ctx.Err()
				}
			}
		}
		for j, ev := range dtmf.Packets(code, 100, 20, 10) {
			n, err := ev.MarshalTo(payload[:])
			if err != nil {
				return err
			}
			f.Header = rtp.Header{SSRC: injectSSRC, SequenceNumber: seq, Timestamp: ts, Marker: j == 0}
			f.Payload = payload[:n]
			f.Codec = CodecEvent
			seq++
			w.mu.Lock()
			w.writeLocked(&f)
			w.mu.Unlock()
			if ev.End {
				continue // redundant end packets go out back to back
			}
			select {
			case <-tick.C:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
	return nil
}

func (w *Writer) ssrcValue() uint32 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.ssrc
}

// SSRC returns the SSRC our stream is sent with.
func (w *Writer) SSRC() uint32 { return w.ssrcValue() }
