package rtpio

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"runtime/debug"
	"sync"
	"time"
)

// ErrNoPorts means every port pair in the range is in use.
var ErrNoPorts = errors.New("no free RTP port pair in range")

// Ports hands out even RTP ports (RTCP on the next odd one) from a range,
// rotating so a just-freed port is not reused at once: late packets of the
// last call must not land in the next one.
type Ports struct {
	ip       netip.Addr
	min, max int

	mu     sync.Mutex
	next   int
	inUse  map[int]bool
	allocs uint64

	// The heap calls grew (pion's and our buffers, the SIP dialogs) is
	// garbage once they end, but the runtime hands it back to the OS only
	// slowly: 200 calls ending left ~60 MiB resident for minutes. When
	// the calls in progress have fallen to half their peak or less and
	// no call has ended for returnAfter, the heap is returned in one go
	// (a full collection: some milliseconds of CPU per wave of hang-ups).
	peak        int
	returnTimer *time.Timer
	freeOS      func() // debug.FreeOSMemory; tests count the calls
}

const (
	// returnAfter is how long hang-ups must pause before the heap is
	// returned, so a wave of them pays for one collection.
	returnAfter = time.Second
	// returnMin is the fewest ended calls worth a collection.
	returnMin = 16
)

// NewPorts manages [min, max] on ip.
func NewPorts(ip netip.Addr, min, max int) (*Ports, error) {
	if min < 1024 || max > 65535 || min >= max {
		return nil, fmt.Errorf("rtp port range %d-%d: want 1024 <= min < max <= 65535", min, max)
	}
	if min%2 == 1 {
		min++
	}
	return &Ports{ip: ip, min: min, max: max, next: min, inUse: map[int]bool{}, freeOS: debug.FreeOSMemory}, nil
}

// Allocate binds a fresh RTP/RTCP socket pair.
func (p *Ports) Allocate() (rtpConn, rtcpConn *net.UDPConn, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	span := (p.max-p.min)/2 + 1
	for range span {
		port := p.next
		p.next += 2
		if p.next+1 > p.max {
			p.next = p.min
		}
		if p.inUse[port] {
			continue
		}
		a, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(p.ip, uint16(port))))
		if err != nil {
			continue
		}
		b, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(p.ip, uint16(port+1))))
		if err != nil {
			a.Close()
			continue
		}
		p.inUse[port] = true
		p.allocs++
		p.peak = max(p.peak, len(p.inUse))
		return a, b, nil
	}
	return nil, nil, ErrNoPorts
}

// Release marks the pair of rtpConn free again (the caller closes it).
func (p *Ports) Release(rtpConn *net.UDPConn) {
	port := rtpConn.LocalAddr().(*net.UDPAddr).Port
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.inUse, port)
	if n := len(p.inUse); n <= p.peak/2 && p.peak-n >= returnMin {
		if p.returnTimer == nil {
			p.returnTimer = time.AfterFunc(returnAfter, p.returnHeap)
		} else {
			p.returnTimer.Reset(returnAfter)
		}
	}
}

// returnHeap hands the heap of ended calls back to the OS, unless calls
// have come back meanwhile; the peak starts again from what is left.
func (p *Ports) returnHeap() {
	p.mu.Lock()
	n := len(p.inUse)
	due := n <= p.peak/2 && p.peak-n >= returnMin
	if due {
		p.peak = n
	}
	p.mu.Unlock()
	if due {
		p.freeOS()
	}
}

// InUse returns how many pairs are allocated.
func (p *Ports) InUse() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.inUse)
}

// Allocations counts pairs handed out since NewPorts, so tests and
// metrics can tell whether a request took ports at all.
func (p *Ports) Allocations() uint64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.allocs
}
