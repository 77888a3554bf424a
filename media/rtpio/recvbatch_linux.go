package rtpio

import (
	"encoding/binary"
	"net"
	"net/netip"
	"strconv"
	"sync/atomic"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// RecvBatch is the reusable state of recvmmsg: room for a number of
// datagrams of a fixed size and their source addresses, so that reading
// allocates nothing. The WebRTC socket's reader (media/peer) and the SIP
// legs' pollers use it.
//
// Concurrency: one reader at a time.
type RecvBatch struct {
	hdrs  []unix.Mmsghdr
	iovs  []unix.Iovec
	names []unix.RawSockaddrInet6
	buf   []byte
	slot  int

	// reads (that returned datagrams) and datagrams, for the metrics.
	reads, datagrams atomic.Uint64
}

// NewRecvBatch makes room for n datagrams of up to slot bytes (a longer
// one is cut to slot bytes; make slot one more than the largest you
// accept to tell them apart).
func NewRecvBatch(n, slot int) *RecvBatch {
	b := &RecvBatch{hdrs: make([]unix.Mmsghdr, n), iovs: make([]unix.Iovec, n),
		names: make([]unix.RawSockaddrInet6, n), buf: make([]byte, n*slot), slot: slot}
	for i := range b.hdrs {
		b.iovs[i].Base = &b.buf[i*slot]
		b.iovs[i].SetLen(slot)
		b.hdrs[i].Hdr.Iov = &b.iovs[i]
		b.hdrs[i].Hdr.SetIovlen(1)
		b.hdrs[i].Hdr.Name = (*byte)(unsafe.Pointer(&b.names[i]))
	}
	return b
}

// Len is how many datagrams one Recv may return.
func (b *RecvBatch) Len() int { return len(b.hdrs) }

// Recv is one recvmmsg on fd with flags (MSG_DONTWAIT on a blocking
// socket); it returns how many datagrams arrived. It never waits, so it
// is a raw system call (see RawUDP for why that matters).
func (b *RecvBatch) Recv(fd uintptr, flags int) (int, syscall.Errno) {
	for i := range b.hdrs {
		b.hdrs[i].Hdr.Namelen = uint32(unsafe.Sizeof(b.names[i]))
		b.hdrs[i].Hdr.Flags = 0
	}
	n, _, errno := unix.RawSyscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&b.hdrs[0])), uintptr(len(b.hdrs)), uintptr(flags|unix.MSG_DONTWAIT), 0, 0)
	if errno != 0 {
		return 0, errno
	}
	b.reads.Add(1)
	b.datagrams.Add(uint64(n))
	return int(n), 0
}

// Counts are the reads that returned datagrams and the datagrams they
// returned; datagrams/reads is the batching achieved.
func (b *RecvBatch) Counts() (reads, datagrams uint64) { return b.reads.Load(), b.datagrams.Load() }

// Datagram is the i-th datagram of the last Recv and its source. The
// bytes are only valid until the next Recv.
func (b *RecvBatch) Datagram(i int) ([]byte, netip.AddrPort) {
	size := min(int(b.hdrs[i].Len), b.slot)
	return b.buf[i*b.slot : i*b.slot+size], addrPortOf(&b.names[i])
}

// addrPortOf converts a received address. As net does, a mapped IPv4
// address stays mapped and a link-local one gets its interface as zone
// (the only case that allocates).
func addrPortOf(sa *unix.RawSockaddrInet6) netip.AddrPort {
	port := binary.BigEndian.Uint16((*[2]byte)(unsafe.Pointer(&sa.Port))[:])
	switch sa.Family {
	case unix.AF_INET:
		sa4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(sa))
		return netip.AddrPortFrom(netip.AddrFrom4(sa4.Addr), port)
	case unix.AF_INET6:
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
