package rtpio

import (
	"errors"
	"net"
	"net/netip"
	"os"
	"runtime"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// poller reads many SIP legs' UDP sockets from one goroutine with epoll,
// and hands each datagram to its leg inline. A goroutine per socket
// would cost a stack per call and a wake-up (futex, scheduler, netpoll)
// per packet; here one epoll_wait returns every socket with data and
// the packets are read and relayed in a row. RTP sockets are spread over
// one poller per CPU (the relay runs on them), RTCP sockets share one.
// A poller's goroutine runs only while it has sockets, so none outlives
// the last leg.
//
// Concurrency: add and remove may be called from any goroutine. The
// loop reads a socket only inside its RawConn's Control, which keeps the
// net package from closing it (and its descriptor from being reused)
// meanwhile. Each socket is read by one poller only, so a leg's read
// state stays with one goroutine, as it was with a read loop per leg.
type poller struct {
	mu      sync.Mutex
	epfd    int // valid while running
	wake    int // an eventfd in the set: the last remove ends the wait at once
	running bool
	socks   map[int32]*polled
}

type polled struct {
	conn *net.UDPConn
	rc   syscall.RawConn
	on   func(b []byte, from netip.AddrPort)
}

var (
	rtpPollers  = newPollers(runtime.GOMAXPROCS(0))
	rtcpPollers = newPollers(1)
)

func newPollers(n int) []*poller {
	ps := make([]*poller, max(n, 1))
	for i := range ps {
		ps[i] = &poller{socks: map[int32]*polled{}}
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
func pollUDP(ps []*poller, conn *net.UDPConn, on func([]byte, netip.AddrPort)) bool {
	rc, err := conn.SyscallConn()
	if err != nil {
		return false
	}
	fd, ok := fdOf(rc)
	if !ok {
		return false
	}
	return ps[int(fd)%len(ps)].add(fd, &polled{conn: conn, rc: rc, on: on})
}

// unpollUDP forgets conn before it is closed.
func unpollUDP(ps []*poller, conn *net.UDPConn) {
	rc, err := conn.SyscallConn()
	if err != nil {
		return
	}
	if fd, ok := fdOf(rc); ok {
		ps[int(fd)%len(ps)].remove(fd, conn)
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
	events := make([]unix.EpollEvent, 128)
	r := newPollReader()
	ready := make([]*polled, 0, len(events))
	var n int
	wait := func(fd uintptr) bool {
		// Without a timeout: a raw call, as the reads (RawUDP says why).
		r, _, errno := unix.RawSyscall6(unix.SYS_EPOLL_PWAIT, fd, uintptr(unsafe.Pointer(&events[0])), uintptr(len(events)), 0, 0, 0)
		n = int(r)
		if errno != 0 {
			n = 0
		}
		return n > 0 || (errno != 0 && errno != unix.EINTR && errno != unix.EAGAIN)
	}
	sweepAt := time.Now().Add(pollSweep)
	_ = f.SetReadDeadline(sweepAt)
	for {
		n = 0
		if err := rc.Read(wait); err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
			n = 0
		}
		n = max(n, 0)
		p.mu.Lock()
		if now := time.Now(); now.After(sweepAt) {
			p.sweepLocked()
			sweepAt = now.Add(pollSweep)
			_ = f.SetReadDeadline(sweepAt)
		}
		if len(p.socks) == 0 {
			// Nothing left to read: stop, under the lock, so the next
			// add starts a new loop.
			p.running = false
			p.mu.Unlock()
			return
		}
		ready = ready[:0]
		for _, ev := range events[:n] {
			if int(ev.Fd) == wake {
				var b [8]byte
				_, _ = unix.Read(wake, b[:])
				continue
			}
			if s := p.socks[ev.Fd]; s != nil {
				ready = append(ready, s)
			}
		}
		p.mu.Unlock()
		for _, s := range ready {
			r.drain(s)
		}
		clear(ready)
	}
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
	batch   *RecvBatch
	s       *polled
	drainFn func(uintptr)
}

// pollBatch is how many datagrams one read of a ready socket may return:
// one recvmmsg takes whatever waits (usually one packet) and reports
// how many, so no second call is needed to learn the socket is empty.
// MTU+1 per datagram tells an oversized packet from one of MTU bytes.
const pollBatch = 4

func newPollReader() *pollReader {
	r := &pollReader{batch: NewRecvBatch(pollBatch, MTU+1)}
	r.drainFn = r.recv
	return r
}

// drain reads what waits on a ready socket. A socket with more than a
// batch waiting stays ready and is read again after the next wait, so
// one busy socket cannot starve the others.
func (r *pollReader) drain(s *polled) {
	r.s = s
	_ = s.rc.Control(r.drainFn)
	r.s = nil
}

func (r *pollReader) recv(fd uintptr) {
	n, errno := r.batch.Recv(fd, unix.MSG_DONTWAIT)
	if errno != 0 {
		return // EAGAIN: nothing after all; anything else: the next wait tells
	}
	for i := range n {
		r.s.on(r.batch.Datagram(i))
	}
}
