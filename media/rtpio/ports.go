package rtpio

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
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
}

// NewPorts manages [min, max] on ip.
func NewPorts(ip netip.Addr, min, max int) (*Ports, error) {
	if min < 1024 || max > 65535 || min >= max {
		return nil, fmt.Errorf("rtp port range %d-%d: want 1024 <= min < max <= 65535", min, max)
	}
	if min%2 == 1 {
		min++
	}
	return &Ports{ip: ip, min: min, max: max, next: min, inUse: map[int]bool{}}, nil
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
		return a, b, nil
	}
	return nil, nil, ErrNoPorts
}

// Release marks the pair of rtpConn free again (the caller closes it).
func (p *Ports) Release(rtpConn *net.UDPConn) {
	port := rtpConn.LocalAddr().(*net.UDPAddr).Port
	p.mu.Lock()
	delete(p.inUse, port)
	p.mu.Unlock()
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
