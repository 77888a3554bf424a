package rtpio

import (
	"errors"
	"log/slog"
	"math"
	"net"
	"net/netip"
	"os"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// poller reads many UDP sockets from one goroutine with epoll — SIP
// legs' and the shared WebRTC sockets (PollUDP) — and hands each
// datagram to its owner inline. A goroutine per socket would cost a
// stack per call and a wake-up (futex, scheduler, netpoll) per packet;
// here one epoll_wait returns every socket with data and the packets are
// read and relayed in a row. There is one RTP poller per CPU (the relay
// runs on them), filled in turn (pick, shed); RTCP sockets share one.
// A poller's goroutine runs only while it has sockets, so none outlives
// the last leg.
//
// Concurrency: add and remove may be called from any goroutine. The
// loop reads a socket only inside its RawConn's Control, which keeps the
// net package from closing it (and its descriptor from being reused)
// meanwhile. Each socket is read by one poller at a time, so a leg's
// read state stays with one goroutine, as it was with a read loop per
// leg; shed hands a shared socket on between its poller's rounds, and
// pollMove keeps a remove from racing that hand-over.
type poller struct {
	mu      sync.Mutex
	epfd    int // valid while running
	wake    int // an eventfd in the set: the last remove ends the wait at once
	running bool
	socks   map[int32]*polled

	// load is how busy the loop was over its last measured window, per
	// mille of the wall clock, measured at loadAt (unix ns).
	load, loadAt atomic.Int64
	set          []*poller // the pollers this one belongs with
	shedAt       int64     // when it last handed its shared sockets on; its loop's
}

type polled struct {
	conn  *net.UDPConn
	rc    syscall.RawConn
	on    func(b []byte, from netip.AddrPort, q *SendQueue)
	batch *RecvBatch // nil: the poller's own (pollBatch datagrams of MTU)
}

// shared reports whether many calls' packets arrive on the socket: the
// WebRTC sockets, the ones PollUDP brings with a batch of their own
// (see shed).
func (s *polled) shared() bool { return s.batch != nil }

var (
	rtpPollers  = newPollers(runtime.GOMAXPROCS(0))
	rtcpPollers = newPollers(1)
)

func newPollers(n int) []*poller {
	ps := make([]*poller, max(n, 1))
	for i := range ps {
		ps[i] = &poller{socks: map[int32]*polled{}}
	}
	for _, p := range ps {
		p.set = ps
	}
	return ps
}

// pollSweep is how often a poller forgets sockets closed without remove
// (their owner closed them itself: the kernel has dropped them from the
// epoll set already, only the map remembers them) and, when none is
// left, stops.
const pollSweep = 500 * time.Millisecond

// pollUDP makes a poller of ps read conn, calling on for each datagram;
// false means it cannot (the caller then reads it on a goroutine).
func pollUDP(ps []*poller, conn *net.UDPConn, on func([]byte, netip.AddrPort, *SendQueue)) bool {
	return pollWith(ps, conn, nil, on)
}

func pollWith(ps []*poller, conn *net.UDPConn, batch *RecvBatch, on func([]byte, netip.AddrPort, *SendQueue)) bool {
	rc, err := conn.SyscallConn()
	if err != nil {
		return false
	}
	fd, ok := fdOf(rc)
	if !ok {
		return false
	}
	return pick(ps).add(fd, &polled{conn: conn, rc: rc, on: on, batch: batch})
}

// pick is the poller a new socket goes to: the first one that is busy
// less than spillAbove, else the least busy. Sockets gather on few pollers
// while the load is light: a wake-up of one goroutine then serves
// whatever arrived on any of them, and the process sleeps and wakes
// less often (at 200 calls here one poller costs 13 % less CPU than two
// taking turns). Only a busy poller spills new sockets to the next, so
// heavy load still spreads over every CPU.
func pick(ps []*poller) *poller {
	now := time.Now().UnixNano()
	best, least := ps[0], int64(math.MaxInt64)
	for _, p := range ps {
		l := p.recentLoad(now)
		if l < spillAbove {
			return p
		}
		if l < least {
			best, least = p, l
		}
	}
	return best
}

// spillAbove is the load (per mille) above which a poller takes no new
// sockets while another has room: high, because the relay's work per
// packet is tens of microseconds, so even a busy poller adds little
// delay, and the load counts the time the OS gave the CPU to others.
const spillAbove = 700

// loadWindow is how often a poller measures its load.
const loadWindow = 250 * time.Millisecond

// A shared socket (the WebRTC one) carries every agent's audio toward
// the SIP legs: once its poller is busy new SIP legs go elsewhere, but
// its own load still grows with every call. So a busy poller that holds
// one next to SIP legs hands it to an idle poller, which then relays
// the agents' side while the legs stay where they are.
const (
	shedAbove = 600 // per mille: the poller is this busy,
	shedTo    = 250 // and another is less busy than this
	shedEvery = 10 * time.Second
)

// pollMove orders moving a socket between pollers against forgetting
// one: a socket in transit must not be closed (and its descriptor number
// reused) before it is registered with its new poller.
var pollMove sync.Mutex

// shed hands the poller's shared sockets to an idle poller. Only the
// poller's own loop calls it, between rounds, so none of them is being
// read meanwhile; the new poller's epoll reports at once what waits.
func (p *poller) shed(now int64) {
	if now-p.shedAt < int64(shedEvery) {
		return
	}
	var to *poller
	for _, q := range p.set {
		if q != p && q.recentLoad(now) < shedTo && (to == nil || q.recentLoad(now) < to.recentLoad(now)) {
			to = q
		}
	}
	if to == nil {
		return
	}
	p.shedAt = now
	pollMove.Lock()
	defer pollMove.Unlock()
	p.mu.Lock()
	var moving []*polled
	var fds []int32
	legs := 0
	for fd, s := range p.socks {
		if s.shared() {
			moving, fds = append(moving, s), append(fds, fd)
		} else {
			legs++
		}
	}
	if len(moving) == 0 || legs == 0 {
		p.mu.Unlock()
		return // alone it would be as busy anywhere
	}
	for _, fd := range fds {
		delete(p.socks, fd)
		_ = unix.EpollCtl(p.epfd, unix.EPOLL_CTL_DEL, int(fd), nil)
	}
	p.mu.Unlock()
	for i, s := range moving {
		slog.Info("media poller: busy; a shared socket moves to an idle poller", "local", s.conn.LocalAddr().String(),
			"load_permille", p.load.Load(), "legs", legs)
		if !to.add(fds[i], s) && !p.add(fds[i], s) {
			slog.Error("media poller: a shared socket could not be polled again", "local", s.conn.LocalAddr().String())
		}
	}
}

// recentLoad is the poller's load; one measured long ago means it has
// been parked since: idle.
func (p *poller) recentLoad(now int64) int64 {
	if now-p.loadAt.Load() > int64(2*loadWindow) {
		return 0
	}
	return p.load.Load()
}

// PollUDP has the RTP pollers read conn too, with batch (a datagram of
// up to its slot size each, as many as it has room for at a time),
// calling on for each from the poller (the bytes are valid only during
// the call; on must not block, and must not close conn: Close waits for
// the call to return). The WebRTC sockets are read this way, so that
// one goroutine relays both ways for its share of sockets and the
// process wakes once for whatever arrived meanwhile. A panic in on is
// logged by the poller and costs that datagram only. False: conn cannot
// be polled here; read it yourself.
func PollUDP(conn *net.UDPConn, batch *RecvBatch, on func([]byte, netip.AddrPort, *SendQueue)) bool {
	return pollWith(rtpPollers, conn, batch, on)
}

// UnpollUDP stops reading conn; call it before closing conn.
func UnpollUDP(conn *net.UDPConn) { unpollUDP(rtpPollers, conn) }

// unpollUDP forgets conn before it is closed.
func unpollUDP(ps []*poller, conn *net.UDPConn) {
	rc, err := conn.SyscallConn()
	if err != nil {
		return
	}
	pollMove.Lock()
	defer pollMove.Unlock()
	if fd, ok := fdOf(rc); ok {
		for _, p := range ps {
			p.remove(fd, conn)
		}
	}
}

func fdOf(rc syscall.RawConn) (int32, bool) {
	var fd int32
	if rc.Control(func(f uintptr) { fd = int32(f) }) != nil {
		return 0, false
	}
	return fd, true
}

func (p *poller) add(fd int32, s *polled) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.running {
		epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
		if err != nil {
			return false
		}
		if err := unix.SetNonblock(epfd, true); err != nil {
			_ = unix.Close(epfd)
			return false
		}
		wake, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
		if err != nil {
			_ = unix.Close(epfd)
			return false
		}
		ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(wake)}
		if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, wake, &ev); err != nil {
			_ = unix.Close(epfd)
			_ = unix.Close(wake)
			return false
		}
		p.epfd, p.wake, p.running = epfd, wake, true
		go p.loop(epfd, wake)
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: fd}
	if err := unix.EpollCtl(p.epfd, unix.EPOLL_CTL_ADD, int(fd), &ev); err != nil {
		return false
	}
	p.socks[fd] = s
	return true
}

func (p *poller) remove(fd int32, conn *net.UDPConn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if s := p.socks[fd]; s == nil || s.conn != conn {
		return
	}
	delete(p.socks, fd)
	_ = unix.EpollCtl(p.epfd, unix.EPOLL_CTL_DEL, int(fd), nil)
	if len(p.socks) == 0 {
		_, _ = unix.Write(p.wake, []byte{1, 0, 0, 0, 0, 0, 0, 0})
	}
}

// loop waits on the epoll set through Go's own netpoller (the set's
// descriptor is itself pollable): a blocking epoll_wait would park an OS
// thread and hand the P over and back on every wake-up, which at
// thousands of packets a second costs more than the reads.
//
// A round runs inside the RawConn's read callback, so that after it the
// loop parks at once: a new packet on any socket in the set makes the
// set readable again (an edge for the netpoller), and packets that were
// already waiting were read in the round. Only when a round may have
// left some (a full batch, a full event list) does it look again.
func (p *poller) loop(epfd, wake int) {
	f := os.NewFile(uintptr(epfd), "rtp-epoll")
	defer f.Close()
	defer unix.Close(wake)
	rc, err := f.SyscallConn()
	if err != nil {
		p.mu.Lock()
		p.running = false
		p.mu.Unlock()
		return
	}
	r := &pollRound{p: p, wake: wake, events: make([]unix.EpollEvent, 128), reader: newPollReader()}
	defer r.reader.sends.Close()
	r.ready = make([]*polled, 0, len(r.events))
	sweepAt := time.Now().Add(pollSweep)
	_ = f.SetReadDeadline(sweepAt)
	for !r.stop {
		if err := rc.Read(r.run); err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
			// The set's descriptor failed; the next wait tells again.
			continue
		}
		if now := time.Now(); now.After(sweepAt) {
			p.mu.Lock()
			p.sweepLocked()
			r.stop = p.stopIfEmptyLocked()
			p.mu.Unlock()
			sweepAt = now.Add(pollSweep)
			_ = f.SetReadDeadline(sweepAt)
		}
	}
}

// pollRound is a poller loop's state for its rounds, reused so a round
// allocates nothing.
type pollRound struct {
	p      *poller
	wake   int
	events []unix.EpollEvent
	ready  []*polled
	reader *pollReader
	stop   bool

	// the load window: when it began, and the time spent in run since
	winStart, busy int64
}

// run is the RawConn callback: rounds until none is left to do; false
// parks the loop until the set is readable again.
func (r *pollRound) run(fd uintptr) bool {
	start := time.Now().UnixNano()
	defer r.measure(start)
	for {
		n, _, errno := unix.RawSyscall6(unix.SYS_EPOLL_PWAIT, fd, uintptr(unsafe.Pointer(&r.events[0])), uintptr(len(r.events)), 0, 0, 0)
		switch {
		case errno == unix.EINTR || errno == unix.EAGAIN || (errno == 0 && n == 0):
			return false
		case errno != 0:
			return true
		}
		more := r.round(int(n))
		if r.stop {
			return true
		}
		if !more {
			return false
		}
	}
}

// measure adds a run's time to the window, and ends the window when it
// is due. Between runs the loop is parked: idle.
func (r *pollRound) measure(start int64) {
	end := time.Now().UnixNano()
	r.busy += end - start
	if r.winStart == 0 {
		r.winStart = start
	}
	if span := end - r.winStart; span >= int64(loadWindow) {
		load := r.busy * 1000 / span
		r.p.load.Store(load)
		r.p.loadAt.Store(end)
		r.winStart, r.busy = end, 0
		if load > shedAbove && len(r.p.set) > 1 {
			r.p.shed(end)
		}
	}
}

// round reads every socket epoll reported; true if some may still have
// datagrams waiting.
func (r *pollRound) round(n int) bool {
	p := r.p
	p.mu.Lock()
	if r.stop = p.stopIfEmptyLocked(); r.stop {
		p.mu.Unlock()
		return false
	}
	r.ready = r.ready[:0]
	for _, ev := range r.events[:n] {
		if int(ev.Fd) == r.wake {
			var b [8]byte
			_, _ = unix.Read(r.wake, b[:])
			continue
		}
		if s := p.socks[ev.Fd]; s != nil {
			r.ready = append(r.ready, s)
		}
	}
	p.mu.Unlock()
	more := n == len(r.events)
	for _, s := range r.ready {
		if r.reader.drain(s) {
			more = true
		}
	}
	r.reader.sends.Flush()
	clear(r.ready)
	return more
}

// stopIfEmptyLocked ends the loop when nothing is left to read, under the
// lock, so the next add starts a new loop.
func (p *poller) stopIfEmptyLocked() bool {
	if len(p.socks) > 0 {
		return false
	}
	p.running = false
	return true
}

func (p *poller) sweepLocked() {
	for fd, s := range p.socks {
		if s.rc.Control(func(uintptr) {}) != nil {
			delete(p.socks, fd)
		}
	}
}

// pollReader is a poller's receive state, reused for every datagram so
// that reading allocates nothing.
type pollReader struct {
	sends   *SendQueue // what the round relays, sent when it ends
	batch   *RecvBatch
	s       *polled
	full    bool
	drainFn func(uintptr)
}

// pollBatch is how many datagrams one read of a ready socket may return:
// one recvmmsg takes whatever waits (usually one packet) and reports
// how many, so no second call is needed to learn the socket is empty.
// MTU+1 per datagram tells an oversized packet from one of MTU bytes.
const pollBatch = 4

func newPollReader() *pollReader {
	r := &pollReader{batch: NewRecvBatch(pollBatch, MTU+1), sends: NewSendQueue()}
	r.drainFn = r.recv
	return r
}

// drain reads what waits on a ready socket; true if a full batch came
// (more may wait). A socket with more than a batch waiting stays ready
// and is read again in the next round, so one busy socket cannot starve
// the others.
func (r *pollReader) drain(s *polled) bool {
	r.s, r.full = s, false
	_ = s.rc.Control(r.drainFn)
	r.s = nil
	return r.full
}

func (r *pollReader) recv(fd uintptr) {
	b := r.s.batch
	if b == nil {
		b = r.batch
	}
	n, errno := b.Recv(fd, unix.MSG_DONTWAIT)
	if errno != 0 {
		return // EAGAIN: nothing after all; anything else: the next wait tells
	}
	r.full = n == b.Len()
	for i := range n {
		r.deliver(b, i)
	}
}

// deliver hands one datagram to its socket's owner. A panic there (a
// bug in one call's media) is the datagram's alone: the poller serves
// every call on its share of sockets.
func (r *pollReader) deliver(b *RecvBatch, i int) {
	defer func() {
		if v := recover(); v != nil {
			slog.Error("panic handling a media datagram", "local", r.s.conn.LocalAddr().String(), "panic", v, "stack", string(debug.Stack()))
		}
	}()
	d, from := b.Datagram(i)
	r.s.on(d, from, r.sends)
}
