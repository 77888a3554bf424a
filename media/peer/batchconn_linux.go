package peer

import (
	"fmt"
	"net"
	"net/netip"
	"sync"
	"syscall"

	"github.com/ringbridge/ringbridge/media/rtpio"
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
	batch *rtpio.RecvBatch
	n     int // datagrams in the current batch
	next  int // the next one to hand out
	errno syscall.Errno
}

func newBatchConn(c *net.UDPConn) (*batchConn, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return nil, fmt.Errorf("ice udp socket: %w", err)
	}
	b := &batchConn{UDPConn: c, rc: rc, batch: rtpio.NewRecvBatch(batchSize, batchSlot)}
	b.recvFn = b.recv
	return b, nil
}

// recv is one recvmmsg on the non-blocking socket; false (nothing
// waiting) makes the RawConn wait in the netpoller and call it again.
func (b *batchConn) recv(fd uintptr) bool {
	n, errno := b.batch.Recv(fd, 0)
	switch errno {
	case 0:
		b.n, b.next, b.errno = n, 0, 0
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
	}
	d, from := b.batch.Datagram(b.next)
	b.next++
	return copy(p, d), from, nil
}

// poll has the media pollers read the socket (rtpio.PollUDP) with the
// batch, handing each datagram to on; false if they cannot.
func (b *batchConn) poll(on func([]byte, netip.AddrPort, *rtpio.SendQueue)) bool {
	return rtpio.PollUDP(b.UDPConn, b.batch, on)
}

// unpoll stops the pollers reading the socket.
func (b *batchConn) unpoll() { rtpio.UnpollUDP(b.UDPConn) }

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

// batchStats reports batches and datagrams read on c, if it batches.
func batchStats(c net.PacketConn) (batches, datagrams uint64, ok bool) {
	b, ok := c.(*batchConn)
	if !ok {
		return 0, 0, false
	}
	batches, datagrams = b.batch.Counts()
	return batches, datagrams, true
}

// wrapICESocket returns c read in batches.
func wrapICESocket(c *net.UDPConn) (net.PacketConn, error) { return newBatchConn(c) }
