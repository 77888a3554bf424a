package rtpio

import (
	"net"
	"net/netip"
	"os"
	"sync"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// RawUDP is a UDP socket that relayed packets leave by: the socket and
// what a raw sendto on it needs to know (its address family).
//
// Why raw: a relayed packet's sendto on a non-blocking UDP socket
// returns in microseconds, but through the net package it also takes
// the descriptor's write lock, converts the address, and enters the
// runtime's syscall state. That state is what costs most: every entry
// wakes the runtime's monitor thread when the process was idle, which
// then polls at its fastest rate for a while; between packets a relay is
// idle, so at thousands of packets a second the monitor never rests.
// A raw system call leaves the goroutine's P where it is, as any short
// computation would. Nothing here blocks: the socket is non-blocking,
// and a full send buffer drops the packet (EAGAIN) rather than holding
// up the relay goroutine, which serves other calls too.
type RawUDP struct {
	conn *net.UDPConn
	rc   syscall.RawConn
	v6   bool // AF_INET6: IPv4 destinations go as mapped addresses

	mu sync.Mutex // for Send: occasional senders share one scratch
	s  Sender
}

// Send sends b to to, for senders without a Sender of their own (STUN
// answers, RTCP reports): they are few, so they share the socket's.
func (u *RawUDP) Send(b []byte, to netip.AddrPort) error {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.s.Send(u, b, to)
}

// NewRawUDP wraps c. If its descriptor cannot be had, sends go through
// c itself.
func NewRawUDP(c *net.UDPConn) *RawUDP {
	u := &RawUDP{conn: c}
	rc, err := c.SyscallConn()
	if err != nil {
		return u
	}
	var sa unix.Sockaddr
	if cerr := rc.Control(func(fd uintptr) { sa, err = unix.Getsockname(int(fd)) }); cerr != nil || err != nil {
		return u
	}
	switch sa.(type) {
	case *unix.SockaddrInet4:
	case *unix.SockaddrInet6:
		u.v6 = true
	default:
		return u
	}
	u.rc = rc
	return u
}

// Sender is one sender's scratch for RawUDP: the destination in the
// kernel's form and the call's arguments, kept so that sending
// allocates nothing (RawConn.Control takes a function; a method value
// made once is that function).
//
// Concurrency: one Send at a time; its owner's lock serialises them.
type Sender struct {
	fn    func(uintptr)
	b     []byte
	sa    unix.RawSockaddrInet6 // or a RawSockaddrInet4 in its first bytes
	salen uintptr
	errno syscall.Errno
}

// Send sends b to to on u (on u's net.UDPConn when to cannot go raw: an
// IPv6 address with a zone, or a family the socket does not have, which
// the net package then reports).
func (s *Sender) Send(u *RawUDP, b []byte, to netip.AddrPort) error {
	if u.rc == nil || len(b) == 0 || !s.address(u.v6, to) {
		_, err := u.conn.WriteToUDPAddrPort(b, to)
		return err
	}
	if s.fn == nil {
		s.fn = s.sendto
	}
	s.b, s.errno = b, 0
	err := u.rc.Control(s.fn)
	s.b = nil
	if err != nil {
		return err // closed
	}
	if s.errno != 0 {
		return &net.OpError{Op: "write", Net: "udp", Source: u.conn.LocalAddr(),
			Addr: net.UDPAddrFromAddrPort(to), Err: os.NewSyscallError("sendto", s.errno)}
	}
	return nil
}

func (s *Sender) sendto(fd uintptr) {
	_, _, s.errno = unix.RawSyscall6(unix.SYS_SENDTO, fd, uintptr(unsafe.Pointer(&s.b[0])), uintptr(len(s.b)),
		unix.MSG_DONTWAIT, uintptr(unsafe.Pointer(&s.sa)), s.salen)
}

// address puts to into s.sa as the socket's family wants it.
func (s *Sender) address(v6 bool, to netip.AddrPort) bool {
	n, ok := putAddress(&s.sa, v6, to)
	s.salen = n
	return ok
}

// putAddress puts to into sa as a socket of the family (v6 or not)
// wants it, and returns its length; false if it cannot go raw.
func putAddress(sa *unix.RawSockaddrInet6, v6 bool, to netip.AddrPort) (uintptr, bool) {
	a, port := to.Addr(), to.Port()
	if !v6 {
		a = a.Unmap()
		if !a.Is4() {
			return 0, false
		}
		sa4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(sa))
		*sa4 = unix.RawSockaddrInet4{Family: unix.AF_INET, Addr: a.As4()}
		putPort(&sa4.Port, port)
		return unix.SizeofSockaddrInet4, true
	}
	if a.Zone() != "" || !a.IsValid() {
		return 0, false
	}
	*sa = unix.RawSockaddrInet6{Family: unix.AF_INET6, Addr: a.As16()}
	putPort(&sa.Port, port)
	return unix.SizeofSockaddrInet6, true
}

// putPort stores a port in network byte order.
func putPort(p *uint16, port uint16) {
	b := (*[2]byte)(unsafe.Pointer(p))
	b[0], b[1] = byte(port>>8), byte(port)
}
