package main

import (
	"context"
	"encoding/binary"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ringbridge/ringbridge/media/rtpio"
	"github.com/ringbridge/ringbridge/media/trunk"
)

// Audio frames carry our own stamps in the PCMU payload, which the server
// relays untouched (PCMU on both legs):
//
//	[0]      magic
//	[1]      kind: agent or peer frame
//	[2:4]    agent index (agent frames)
//	[4:8]    sequence number of the sender's stream
//	[8:16]   send time, unix nanoseconds
//	[16:24]  echoed frames: the far end's send time of the echo
//
// The rest is µ-law silence. The far end sends each agent frame back as
// it arrives, with kind set to echo and its own send time added, so the
// agent measures the round trip with its own clock and both one-way
// delays (all ends run in this process: one clock).
const (
	frameMagic = 0xB7
	kindAgent  = 1
	kindEcho   = 3
)

// echoTime is the far end's send time in an echoed frame.
func echoTime(p []byte) int64 { return int64(binary.BigEndian.Uint64(p[16:])) }

func stamp(dst []byte, kind byte, idx uint16, seq uint32, now int64) {
	for i := range dst {
		dst[i] = 0xFF
	}
	dst[0], dst[1] = frameMagic, kind
	binary.BigEndian.PutUint16(dst[2:], idx)
	binary.BigEndian.PutUint32(dst[4:], seq)
	binary.BigEndian.PutUint64(dst[8:], uint64(now))
}

// parseStamp returns kind, index, sequence and send time, or ok=false.
func parseStamp(p []byte) (kind byte, idx uint16, seq uint32, sent int64, ok bool) {
	if len(p) < 32 || p[0] != frameMagic {
		return 0, 0, 0, 0, false
	}
	return p[1], binary.BigEndian.Uint16(p[2:]), binary.BigEndian.Uint32(p[4:]), int64(binary.BigEndian.Uint64(p[8:])), true
}

// sipPeer is the far end: a trunk.Phone that answers every INVITE at once
// and sends every agent frame straight back as it arrives (an echo test
// number without a jitter buffer).
type sipPeer struct {
	ph  *trunk.Phone
	win *window

	// Within the window: agent frames heard, frames sent.
	recv, sent atomic.Int64
	// One-way delay agent → server → peer, by agent send time.
	delay   samples
	calls   atomic.Int64 // answered
	failed  atomic.Int64 // answer errors
	active  atomic.Int64
	byExt   sync.Map // calling extension → *peerCall
	wg      sync.WaitGroup
	stopped chan struct{}
}

func newSIPPeer(win *window) (*sipPeer, error) {
	ph, err := trunk.NewPhone(trunk.PhoneConfig{Listen: "127.0.0.1:0", User: "echo", Codec: rtpio.CodecPCMU,
		Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		return nil, err
	}
	return &sipPeer{ph: ph, win: win, stopped: make(chan struct{})}, nil
}

func (p *sipPeer) addr() string { return p.ph.Addr().String() }

// run answers calls until ctx ends. The phone turns INVITEs away with 486
// when 16 wait unanswered, so several loops take them.
func (p *sipPeer) run(ctx context.Context) {
	defer close(p.stopped)
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() { defer wg.Done(); p.takeCalls(ctx) }()
	}
	wg.Wait()
}

func (p *sipPeer) takeCalls(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case c := <-p.ph.Incoming():
			p.wg.Add(1)
			go func() {
				defer p.wg.Done()
				p.serve(ctx, c)
			}()
		}
	}
}

// peerCall is the state of one answered call; echo runs on the call's
// RTP read loop.
type peerCall struct {
	p          *sipPeer
	answeredAt atomic.Int64 // unix nanos, when the 200 OK went out
	firstSent  atomic.Int64 // unix nanos, the first echo
	mu         sync.Mutex
	delays     []int32
	recvWin    int64
}

func (p *sipPeer) serve(ctx context.Context, c *trunk.PhoneCall) {
	pc := &peerCall{p: p}
	p.byExt.Store(c.From, pc)
	defer p.byExt.CompareAndDelete(c.From, pc)
	c.Echo(func(_ rtpio.Codec, payload []byte) { pc.echo(payload) })
	if err := c.Answer(ctx); err != nil {
		p.failed.Add(1)
		_ = c.Hangup(context.Background())
		return
	}
	pc.answeredAt.Store(time.Now().UnixNano())
	p.calls.Add(1)
	p.active.Add(1)
	defer p.active.Add(-1)
	select {
	case <-c.Done():
	case <-ctx.Done():
		hctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_ = c.Hangup(hctx)
		cancel()
	}
	pc.mu.Lock()
	p.delay.addAll(pc.delays)
	p.recv.Add(pc.recvWin)
	pc.mu.Unlock()
}

// echo counts an agent frame and turns it into its echo, which the call
// then sends back. Frames are counted by the agent's send time, on both
// ends, so sent and received compare the same frames.
func (pc *peerCall) echo(payload []byte) {
	now := time.Now().UnixNano()
	kind, _, _, sent, ok := parseStamp(payload)
	if !ok || kind != kindAgent {
		return
	}
	payload[1] = kindEcho
	binary.BigEndian.PutUint64(payload[16:], uint64(now))
	pc.firstSent.CompareAndSwap(0, now)
	if pc.p.win.in(sent) {
		pc.p.sent.Add(1)
		pc.mu.Lock()
		pc.recvWin++
		pc.delays = append(pc.delays, int32(min((now-sent)/1000, 1<<31-1)))
		pc.mu.Unlock()
	}
}

// farEndWait is how long after answering the far end echoed its first
// frame: the wait for the agent's next frame (up to one 20 ms
// packetisation interval), not the server's time.
func (p *sipPeer) farEndWait(ext string) (time.Duration, bool) {
	v, ok := p.byExt.Load(ext)
	if !ok {
		return 0, false
	}
	pc := v.(*peerCall)
	a, f := pc.answeredAt.Load(), pc.firstSent.Load()
	if a == 0 || f == 0 {
		return 0, false
	}
	return time.Duration(f - a), true
}

// reset clears the window counters between runs.
func (p *sipPeer) reset() {
	p.recv.Store(0)
	p.sent.Store(0)
	p.delay.reset()
}

// close hangs up what is left and stops the phone.
func (p *sipPeer) close() {
	_ = p.ph.Close()
	p.wg.Wait()
}
