package rtpio

import (
	"net"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// rtcpPoller reads every SIP leg's RTCP socket from one goroutine. A
// trunk sends a report about every 5 s per call, so a goroutine (and its
// stack) per call waiting for them cost more than the reports; one epoll
// set holds all the sockets instead, and the goroutine runs only while a
// socket is registered, so no goroutine outlives the last leg.
//
// Concurrency: add and remove may be called from any goroutine; the loop
// reads a socket only through its RawConn, which the net package keeps
// from closing (and its descriptor from being reused) meanwhile.
type rtcpPoller struct {
	mu      sync.Mutex
	epfd    int // valid while running
	wake    int // an eventfd in the set: the last remove ends the wait at once
	running bool
	legs    map[int32]*rtcpSock
}

type rtcpSock struct {
	leg  *UDPLeg
	conn *net.UDPConn
}

var rtcpPolls = &rtcpPoller{legs: map[int32]*rtcpSock{}}

// rtcpWait is how long the loop waits for a report before checking
// whether it still has sockets to watch.
const rtcpWait = 500 * time.Millisecond

// readRTCP makes the poller read conn for l; false means it cannot (the
// caller then reads it on a goroutine of its own).
func readRTCP(l *UDPLeg, conn *net.UDPConn) bool {
	return rtcpPolls.add(l, conn)
}

// stopRTCP forgets conn before it is closed.
func stopRTCP(conn *net.UDPConn) { rtcpPolls.remove(conn) }

func fdOf(conn *net.UDPConn) (int32, bool) {
	rc, err := conn.SyscallConn()
	if err != nil {
		return 0, false
	}
	var fd int32
	if rc.Control(func(f uintptr) { fd = int32(f) }) != nil {
		return 0, false
	}
	return fd, true
}

func (p *rtcpPoller) add(l *UDPLeg, conn *net.UDPConn) bool {
	fd, ok := fdOf(conn)
	if !ok {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.running {
		epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
		if err != nil {
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
	p.legs[fd] = &rtcpSock{leg: l, conn: conn}
	return true
}

func (p *rtcpPoller) remove(conn *net.UDPConn) {
	fd, ok := fdOf(conn)
	if !ok {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if s := p.legs[fd]; s == nil || s.conn != conn {
		return
	}
	delete(p.legs, fd)
	_ = unix.EpollCtl(p.epfd, unix.EPOLL_CTL_DEL, int(fd), nil)
	if len(p.legs) == 0 {
		_, _ = unix.Write(p.wake, []byte{1, 0, 0, 0, 0, 0, 0, 0})
	}
}

func (p *rtcpPoller) loop(epfd, wake int) {
	events := make([]unix.EpollEvent, 64)
	buf := make([]byte, MTU)
	ready := make([]*rtcpSock, 0, 64)
	swept := time.Now()
	for {
		n, err := unix.EpollWait(epfd, events, int(rtcpWait/time.Millisecond))
		if err != nil && err != unix.EINTR {
			n = 0
		}
		p.mu.Lock()
		if time.Since(swept) > rtcpSweep {
			p.sweepLocked()
			swept = time.Now()
		}
		if len(p.legs) == 0 {
			// Nothing left to watch: stop, under the lock, so the next
			// add starts a new loop.
			p.running = false
			p.mu.Unlock()
			_ = unix.Close(epfd)
			_ = unix.Close(wake)
			return
		}
		ready = ready[:0]
		for _, ev := range events[:max(n, 0)] {
			if int(ev.Fd) == wake {
				var b [8]byte
				_, _ = unix.Read(wake, b[:])
				continue
			}
			if s := p.legs[ev.Fd]; s != nil {
				ready = append(ready, s)
			}
		}
		p.mu.Unlock()
		for _, s := range ready {
			s.drain(buf)
		}
		clear(ready)
	}
}

// rtcpSweep is how often sockets closed without remove (a leg's owner
// closing the socket itself) are forgotten: the kernel has dropped them
// from the epoll set already, only the map remembers them.
const rtcpSweep = rtcpWait

func (p *rtcpPoller) sweepLocked() {
	for fd, s := range p.legs {
		rc, err := s.conn.SyscallConn()
		if err != nil || rc.Control(func(uintptr) {}) != nil {
			delete(p.legs, fd)
		}
	}
}

// drain reads every report waiting on the socket.
func (s *rtcpSock) drain(buf []byte) {
	rc, err := s.conn.SyscallConn()
	if err != nil {
		return
	}
	_ = rc.Control(func(fd uintptr) {
		for {
			n, _, err := unix.Recvfrom(int(fd), buf, unix.MSG_DONTWAIT)
			if err != nil || n <= 0 {
				return
			}
			s.leg.takeRTCP(buf[:n])
		}
	})
}
