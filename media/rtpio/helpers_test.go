package rtpio

import (
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/ringbridge/ringbridge/media/dtmf"
	"go.uber.org/goleak"
)

// TestMain fails the package if a test leaves a read loop running.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// sentPacket is one packet an OutFunc was asked to send, copied out of the
// writer's reused header and the source's borrowed payload.
type sentPacket struct {
	h       rtp.Header
	payload []byte
	// data is the first byte of the payload slice as handed to OutFunc,
	// to prove a conversion happened in place.
	data *byte
}

// capture is a fake OutFunc that records what a Writer sends.
type capture struct {
	mu   sync.Mutex
	pkts []sentPacket
	// onSend, if set, runs for every packet (with the writer's lock held).
	onSend func(h *rtp.Header, payload []byte)
}

func (c *capture) out(h *rtp.Header, payload []byte, _ *SendQueue) error {
	p := sentPacket{h: h.Clone(), payload: slices.Clone(payload)}
	if len(payload) > 0 {
		p.data = &payload[0]
	}
	c.mu.Lock()
	c.pkts = append(c.pkts, p)
	fn := c.onSend
	c.mu.Unlock()
	if fn != nil {
		fn(h, payload)
	}
	return nil
}

func (c *capture) packets() []sentPacket {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.pkts)
}

func (c *capture) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.pkts)
}

// digitsIn decodes the RFC 4733 digits in pkts the way a far end would.
func digitsIn(t *testing.T, pkts []sentPacket, eventPT uint8) string {
	t.Helper()
	var rx dtmf.Receiver
	var got []rune
	for _, p := range pkts {
		if p.h.PayloadType != eventPT {
			continue
		}
		d, ok, err := rx.Push(p.h.Timestamp, p.payload)
		if err != nil {
			t.Fatalf("far end cannot decode event payload % x: %v", p.payload, err)
		}
		if ok {
			got = append(got, d)
		}
	}
	return string(got)
}

// rtpPacket marshals one RTP packet.
func rtpPacket(t testing.TB, h rtp.Header, payload []byte) []byte {
	t.Helper()
	h.Version = 2
	b, err := (&rtp.Packet{Header: h, Payload: payload}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// frameSink records the frames a Reader hands on.
type frameSink struct {
	mu     sync.Mutex
	frames []Frame
}

func (s *frameSink) WriteFrame(f *Frame) {
	c := Frame{Header: f.Header.Clone(), Payload: slices.Clone(f.Payload), Codec: f.Codec}
	s.mu.Lock()
	s.frames = append(s.frames, c)
	s.mu.Unlock()
}

func (s *frameSink) got() []Frame {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.frames)
}

// eventually polls cond until it holds or a few seconds pass.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// payloadOf returns n bytes counting up from start.
func payloadOf(n int, start byte) []byte {
	p := make([]byte, n)
	for i := range p {
		p[i] = start + byte(i)
	}
	return p
}
