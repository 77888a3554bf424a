package peer

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// batchSize is how many datagrams one recvmmsg may return; batchSlot the
// room for each: pion's own read buffer size, so whatever pion accepted
// before still fits (WebRTC keeps packets under the path MTU, but a
// reassembled IP fragment may be longer). 256 KiB per socket.
const (
	batchSize = 32
	batchSlot = 8192
)

// batchConn is the shared ICE UDP socket read in batches. Every agent's
// ICE, DTLS and SRTP arrives on this one socket, read by one pion
// goroutine a datagram at a time: at 500 calls that is 25,000 recvfrom a
// second, and when the process is short of CPU that reader falls behind
// and the kernel drops from the socket's buffer. One recvmmsg takes
// every datagram waiting (up to batchSize) in one system call; the rest
// of the batch is then handed out without entering the kernel. When
// little is waiting it costs what recvfrom did.
//
// Concurrency: ReadFromAddrPort and ReadFrom are called by one reader
// (pion's mux worker); mu only guards against a second. Writes go
// straight to the socket from any goroutine.
type batchConn struct {
	*net.UDPConn
	rc     syscall.RawConn
	recvFn func(fd uintptr) bool

	mu    sync.Mutex
	hdrs  [batchSize]unix.Mmsghdr
	iovs  [batchSize]unix.Iovec
	names [batchSize]unix.RawSockaddrInet6
	buf   []byte
	n     int // datagrams in the current batch
	next  int // the next one to hand out
	errno syscall.Errno

	// Batches and datagrams read, for the figures in docs/benchmarks.md.
	batches, datagrams atomic.Uint64
}

func newBatchConn(c *net.UDPConn) (*batchConn, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return nil, fmt.Errorf("ice udp socket: %w", err)
	}
	b := &batchConn{UDPConn: c, rc: rc, buf: make([]byte, batchSize*batchSlot)}
	for i := range b.hdrs {
		b.iovs[i].Base = &b.buf[i*batchSlot]
		b.iovs[i].SetLen(batchSlot)
		b.hdrs[i].Hdr.Iov = &b.iovs[i]
		b.hdrs[i].Hdr.SetIovlen(1)
		b.hdrs[i].Hdr.Name = (*byte)(unsafe.Pointer(&b.names[i]))
	}
	b.recvFn = b.recv
	return b, nil
}

// recv is one recvmmsg on the non-blocking socket; false (nothing
// waiting) makes the RawConn wait in the netpoller and call it again.
func (b *batchConn) recv(fd uintptr) bool {
	for i := range b.hdrs {
		b.hdrs[i].Hdr.Namelen = uint32(unsafe.Sizeof(b.names[i]))
		b.hdrs[i].Hdr.Flags = 0
	}
	n, _, errno := unix.Syscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&b.hdrs[0])), batchSize, 0, 0, 0)
	switch errno {
	case 0:
		b.n, b.next, b.errno = int(n), 0, 0
		return true
	case unix.EAGAIN, unix.EINTR:
		return false
	default:
		b.n, b.next, b.errno = 0, 0, errno
		return true
	}
}

// ReadFromAddrPort implements ice.AddrPortReaderWriter: the next datagram
// of the current batch, reading a new batch when it is used up.
func (b *batchConn) ReadFromAddrPort(p []byte) (int, netip.AddrPort, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for b.next >= b.n {
		if err := b.rc.Read(b.recvFn); err != nil {
			return 0, netip.AddrPort{}, err
		}
		if b.errno != 0 {
			return 0, netip.AddrPort{}, &net.OpError{Op: "recvmmsg", Net: "udp", Source: b.LocalAddr(), Err: b.errno}
		}
		b.batches.Add(1)
		b.datagrams.Add(uint64(b.n))
	}
	i := b.next
	b.next++
	n := copy(p, b.buf[i*batchSlot:i*batchSlot+min(int(b.hdrs[i].Len), batchSlot)])
	return n, sockaddrToAddrPort(&b.names[i]), nil
}

// ReadFrom is net.PacketConn's form of ReadFromAddrPort (it allocates the
// address; pion uses ReadFromAddrPort).
func (b *batchConn) ReadFrom(p []byte) (int, net.Addr, error) {
	n, ap, err := b.ReadFromAddrPort(p)
	if err != nil {
		return n, nil, err
	}
	return n, net.UDPAddrFromAddrPort(ap), nil
}

// WriteToAddrPort implements ice.AddrPortReaderWriter.
func (b *batchConn) WriteToAddrPort(p []byte, ap netip.AddrPort) (int, error) {
	return b.UDPConn.WriteToUDPAddrPort(p, ap)
}

func sockaddrToAddrPort(sa *unix.RawSockaddrInet6) netip.AddrPort {
	port := binary.BigEndian.Uint16((*[2]byte)(unsafe.Pointer(&sa.Port))[:])
	switch sa.Family {
	case unix.AF_INET:
		sa4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(sa))
		return netip.AddrPortFrom(netip.AddrFrom4(sa4.Addr), port)
	case unix.AF_INET6:
		// As net does: a mapped IPv4 address stays mapped, a link-local
		// one gets its interface as zone.
		a := netip.AddrFrom16(sa.Addr)
		if sa.Scope_id != 0 {
			if ifi, err := net.InterfaceByIndex(int(sa.Scope_id)); err == nil {
				a = a.WithZone(ifi.Name)
			} else {
				a = a.WithZone(strconv.FormatUint(uint64(sa.Scope_id), 10))
			}
		}
		return netip.AddrPortFrom(a, port)
	}
	return netip.AddrPort{}
}

// batchStats reports batches and datagrams read on c, if it batches.
func batchStats(c net.PacketConn) (batches, datagrams uint64, ok bool) {
	b, ok := c.(*batchConn)
	if !ok {
		return 0, 0, false
	}
	return b.batches.Load(), b.datagrams.Load(), true
}

// wrapICESocket returns c read in batches.
func wrapICESocket(c *net.UDPConn) (net.PacketConn, error) { return newBatchConn(c) }
