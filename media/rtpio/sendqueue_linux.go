package rtpio

import (
	"net/netip"
	"sync/atomic"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// SendQueue holds the packets a poller's round relays, so that they
// leave together when the round ends: a poller wakes for two or three
// datagrams at a time, and a sendto each costs more than the relaying.
// Two or more queued packets go out in one io_uring_enter with a
// SENDMSG each; one goes by sendto, which is cheaper alone. Measured on
// a 2-core VM (tools/sendburst, docs/benchmarks.md): a packet's send
// costs 5.1 µs in bursts of two sendto calls and 3.7 µs through
// io_uring; in bursts of three 5.2 and 2.9; alone 9.6 and 13.3.
//
// Every send is MSG_DONTWAIT, so io_uring completes it (or fails it with
// EAGAIN, a dropped packet as with sendto) before io_uring_enter returns:
// nothing of the queue is still read by the kernel afterwards. The
// sockets are pinned while the submission runs (each through its
// RawConn's Control), so a socket closed meanwhile is skipped instead of
// its descriptor number, maybe reused, being written to.
//
// Without io_uring (an old kernel, a sandbox forbidding it) every queued
// packet goes by sendto.
//
// Concurrency: one goroutine at a time — the poller that owns it.
type SendQueue struct {
	n     int
	ents  [sendQueueLen]queuedSend
	arena []byte // sendQueueLen packets of MTU, made by the first Add (the RTCP poller never sends)

	ring      *sendRing // nil: none (yet)
	ringTried bool      // made at the first flush of two, once
	msgs      [sendQueueLen]unix.Msghdr
	iovs      [sendQueueLen]unix.Iovec
	fds       [sendQueueLen]int32
	pinned    int
	pinFn     func(uintptr)
	send1     Sender
}

// sendQueueLen bounds a queue; a full queue is flushed before the next
// packet is added.
const sendQueueLen = 32

type queuedSend struct {
	u     *RawUDP
	sa    unix.RawSockaddrInet6
	salen uint32
	n     int
}

// NewSendQueue returns a queue. Its io_uring is made when it first has
// two packets to send (a queue that never does costs no descriptor).
func NewSendQueue() *SendQueue {
	q := &SendQueue{}
	q.pinFn = q.pin
	return q
}

// Close releases the queue's io_uring; it sends nothing still queued,
// and later flushes use sendto.
func (q *SendQueue) Close() {
	if q.ring != nil {
		q.ring.close()
		q.ring = nil
	}
	q.ringTried = true
}

// Len is how many packets wait.
func (q *SendQueue) Len() int { return q.n }

// Add queues b (copied) for to on u. What cannot go raw (see
// Sender.Send) is sent at once instead.
func (q *SendQueue) Add(u *RawUDP, b []byte, to netip.AddrPort) error {
	if u.rc == nil || len(b) == 0 || len(b) > MTU {
		return q.send1.Send(u, b, to)
	}
	if q.n == sendQueueLen {
		q.Flush()
	}
	if q.arena == nil {
		q.arena = make([]byte, sendQueueLen*MTU)
	}
	e := &q.ents[q.n]
	salen, ok := putAddress(&e.sa, u.v6, to)
	if !ok {
		return q.send1.Send(u, b, to)
	}
	e.u, e.salen, e.n = u, uint32(salen), copy(q.arena[q.n*MTU:], b)
	q.n++
	return nil
}

// Flush sends what is queued.
func (q *SendQueue) Flush() {
	switch {
	case q.n == 0:
		return
	case q.n > 1 && !q.ringTried:
		q.ringTried = true
		if r, err := newSendRing(sendQueueLen); err == nil {
			q.ring = r
		}
	}
	switch {
	case q.n == 1 || q.ring == nil:
		for i := range q.n {
			q.sendOne(i)
		}
	default:
		q.pinned = 0
		q.pinNext()
	}
	clear(q.ents[:q.n])
	q.n = 0
}

// pin is the Control callback that holds one more socket open.
func (q *SendQueue) pin(fd uintptr) {
	q.fds[q.pinned] = int32(fd)
	q.pinned++
	q.pinNext()
}

// pinNext holds the next queued packet's socket open (a closed one is
// skipped, its packet dropped); with every one held, it submits them.
func (q *SendQueue) pinNext() {
	for q.pinned < q.n {
		if q.ents[q.pinned].u.rc.Control(q.pinFn) == nil {
			return // the deeper call submitted
		}
		q.fds[q.pinned] = -1 // closed: skipped
		q.pinned++
		dropped(1)
	}
	q.submit()
}

func (q *SendQueue) submit() {
	r := q.ring
	tail := r.sqTail()
	subs := 0
	for i := range q.n {
		if q.fds[i] < 0 {
			continue
		}
		e := &q.ents[i]
		q.iovs[i].Base = &q.arena[i*MTU]
		q.iovs[i].SetLen(e.n)
		m := &q.msgs[i]
		*m = unix.Msghdr{Name: (*byte)(unsafe.Pointer(&e.sa)), Namelen: e.salen, Iov: &q.iovs[i]}
		m.SetIovlen(1)
		*r.sqe(tail) = ioUringSqe{opcode: ioringOpSendmsg, fd: q.fds[i], addr: uint64(uintptr(unsafe.Pointer(m))),
			len: 1, msgFlags: unix.MSG_DONTWAIT, userData: uint64(i)}
		tail++
		subs++
	}
	if subs == 0 {
		return
	}
	r.setSQTail(tail)
	failed, ok := r.enter(subs)
	if ok {
		totalBatches.Add(1)
		totalBatched.Add(uint64(subs))
	}
	if !ok || r.broken {
		q.ring = nil
		r.close()
	}
	if !ok {
		// The ring failed before taking the entries: they die with it,
		// and the packets go by sendto on the sockets still pinned.
		for i := range q.n {
			if q.fds[i] >= 0 {
				q.sendPinned(i)
			}
		}
		return
	}
	dropped(failed)
}

// dropped counts n queued packets, counted as sent when queued, that
// did not leave (a closed socket, a full buffer).
func dropped(n int) {
	if n > 0 {
		totalSent.Add(^uint64(n - 1))
		totalDropped.Add(uint64(n))
	}
}

// sendPinned sends the i-th queued packet by sendto on its pinned
// descriptor.
func (q *SendQueue) sendPinned(i int) {
	s := q.load(i)
	s.sendto(uintptr(q.fds[i]))
	s.b = nil
	if s.errno != 0 {
		dropped(1)
	}
}

// sendOne sends the i-th queued packet by sendto.
func (q *SendQueue) sendOne(i int) {
	s := q.load(i)
	err := q.ents[i].u.rc.Control(s.fn)
	s.b = nil
	if err != nil || s.errno != 0 {
		dropped(1)
	}
}

// load puts the i-th queued packet into the queue's Sender.
func (q *SendQueue) load(i int) *Sender {
	e, s := &q.ents[i], &q.send1
	if s.fn == nil {
		s.fn = s.sendto
	}
	s.sa, s.salen = e.sa, uintptr(e.salen)
	s.b, s.errno = q.arena[i*MTU:i*MTU+e.n], 0
	return s
}

// sendRing is an io_uring used for sends only: its submission and
// completion queues mapped into our memory.
type sendRing struct {
	fd                       int
	broken                   bool // give it up after this submission
	sqRing, cqRing, sqesMem  []byte
	sqTailP, sqMask          *uint32
	cqHeadP, cqTailP, cqMask *uint32
	sqes                     []ioUringSqe
	cqes                     []ioUringCqe
	sqArr                    []uint32
}

// The kernel's io_uring ABI (include/uapi/linux/io_uring.h).
type ioUringSqe struct {
	opcode      uint8
	flags       uint8
	ioprio      uint16
	fd          int32
	off         uint64
	addr        uint64
	len         uint32
	msgFlags    uint32
	userData    uint64
	bufIndex    uint16
	personality uint16
	spliceFdIn  int32
	addr3       uint64
	pad2        uint64
}

var _ [64]byte = [unsafe.Sizeof(ioUringSqe{})]byte{} // the ABI's size

type ioUringCqe struct {
	userData uint64
	res      int32
	flags    uint32
}

type ioSqringOffsets struct {
	head, tail, ringMask, ringEntries, flags, dropped, array, resv1 uint32
	userAddr                                                        uint64
}

type ioCqringOffsets struct {
	head, tail, ringMask, ringEntries, overflow, cqes, flags, resv1 uint32
	userAddr                                                        uint64
}

type ioUringParams struct {
	sqEntries, cqEntries, flags, sqThreadCPU, sqThreadIdle, features, wqFd uint32
	resv                                                                   [3]uint32
	sqOff                                                                  ioSqringOffsets
	cqOff                                                                  ioCqringOffsets
}

const (
	ioringOpSendmsg    = 9
	ioringOffSqRing    = 0
	ioringOffCqRing    = 0x8000000
	ioringOffSqes      = 0x10000000
	ioringEnterGetEvts = 1
)

func newSendRing(entries uint32) (*sendRing, error) {
	var p ioUringParams
	fd, _, errno := unix.Syscall(unix.SYS_IO_URING_SETUP, uintptr(entries), uintptr(unsafe.Pointer(&p)), 0)
	if errno != 0 {
		return nil, errno
	}
	r := &sendRing{fd: int(fd)}
	fail := func(err error) (*sendRing, error) {
		r.close()
		return nil, err
	}
	var err error
	if r.sqRing, err = unix.Mmap(r.fd, ioringOffSqRing, int(p.sqOff.array+p.sqEntries*4),
		unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE); err != nil {
		return fail(err)
	}
	if r.cqRing, err = unix.Mmap(r.fd, ioringOffCqRing, int(p.cqOff.cqes+p.cqEntries*uint32(unsafe.Sizeof(ioUringCqe{}))),
		unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE); err != nil {
		return fail(err)
	}
	if r.sqesMem, err = unix.Mmap(r.fd, ioringOffSqes, int(p.sqEntries*uint32(unsafe.Sizeof(ioUringSqe{}))),
		unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE); err != nil {
		return fail(err)
	}
	u32 := func(b []byte, off uint32) *uint32 { return (*uint32)(unsafe.Pointer(&b[off])) }
	r.sqTailP, r.sqMask = u32(r.sqRing, p.sqOff.tail), u32(r.sqRing, p.sqOff.ringMask)
	r.cqHeadP, r.cqTailP, r.cqMask = u32(r.cqRing, p.cqOff.head), u32(r.cqRing, p.cqOff.tail), u32(r.cqRing, p.cqOff.ringMask)
	r.sqes = unsafe.Slice((*ioUringSqe)(unsafe.Pointer(&r.sqesMem[0])), p.sqEntries)
	r.cqes = unsafe.Slice((*ioUringCqe)(unsafe.Pointer(&r.cqRing[p.cqOff.cqes])), p.cqEntries)
	r.sqArr = unsafe.Slice(u32(r.sqRing, p.sqOff.array), p.sqEntries)
	return r, nil
}

func (r *sendRing) sqTail() uint32 { return atomic.LoadUint32(r.sqTailP) }

// sqe is the entry for position tail, pointed to from the index array.
func (r *sendRing) sqe(tail uint32) *ioUringSqe {
	i := tail & *r.sqMask
	r.sqArr[i] = i
	return &r.sqes[i]
}

// setSQTail publishes the entries written up to tail.
func (r *sendRing) setSQTail(tail uint32) { atomic.StoreUint32(r.sqTailP, tail) }

// enter submits n entries and reaps their n completions, reporting how
// many failed; false if the ring itself failed before taking them. With
// MSG_DONTWAIT they all complete within the call; if some did not, it
// waits for them, since the queue's buffers must outlive them. The
// submitting call is raw: it does not block (see RawUDP).
func (r *sendRing) enter(n int) (failed int, ok bool) {
	left, done := n, 0
	for left > 0 {
		k, _, errno := unix.RawSyscall6(unix.SYS_IO_URING_ENTER, uintptr(r.fd), uintptr(left), 0, 0, 0, 0)
		switch {
		case errno == syscall.EINTR || errno == syscall.EAGAIN || errno == syscall.EBUSY:
			done, failed = r.reap(done, failed)
			continue
		case errno != 0 && left == n:
			return 0, false
		case errno != 0:
			// Some were taken: wait for those; the rest count as failed,
			// and the ring, whose queue holds entries it never took, is
			// given up.
			r.broken = true
			failed += left
			n -= left
			left = 0
			continue
		}
		left -= int(k)
	}
	for {
		done, failed = r.reap(done, failed)
		if done >= n {
			return failed, true
		}
		_, _, _ = unix.Syscall6(unix.SYS_IO_URING_ENTER, uintptr(r.fd), 0, uintptr(n-done), ioringEnterGetEvts, 0, 0)
	}
}

// reap consumes the completions there are, adding to done and failed.
func (r *sendRing) reap(done, failed int) (int, int) {
	head, tail := *r.cqHeadP, atomic.LoadUint32(r.cqTailP)
	for ; head != tail; head++ {
		if r.cqes[head&*r.cqMask].res < 0 {
			failed++
		}
		done++
	}
	atomic.StoreUint32(r.cqHeadP, head)
	return done, failed
}

func (r *sendRing) close() {
	for _, m := range [][]byte{r.sqesMem, r.cqRing, r.sqRing} {
		if m != nil {
			_ = unix.Munmap(m)
		}
	}
	if r.fd > 0 {
		_ = unix.Close(r.fd)
	}
}
