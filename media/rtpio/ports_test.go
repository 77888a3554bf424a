package rtpio

import (
	"errors"
	"math/rand/v2"
	"net"
	"net/netip"
	"testing"
	"time"
)

var loopback = netip.MustParseAddr("127.0.0.1")

// freeRange finds n consecutive free UDP ports on loopback starting at an
// even port, below the kernel's ephemeral range so that sockets bound to
// :0 by parallel tests do not land in it while the test runs.
func freeRange(t testing.TB, n int) int {
	t.Helper()
	for range 200 {
		base := 30000 + 2*rand.IntN(1300) // 30000..32598
		ok := true
		var held []*net.UDPConn
		for p := base; p < base+n; p++ {
			c, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(loopback, uint16(p))))
			if err != nil {
				ok = false
				break
			}
			held = append(held, c)
		}
		for _, c := range held {
			c.Close()
		}
		if ok {
			return base
		}
	}
	t.Fatal("no free UDP port range on loopback")
	return 0
}

func portOf(c *net.UDPConn) int { return c.LocalAddr().(*net.UDPAddr).Port }

type pair struct{ rtp, rtcp *net.UDPConn }

func allocate(t *testing.T, p *Ports) pair {
	t.Helper()
	a, b, err := p.Allocate()
	if err != nil {
		t.Fatalf("Allocate: %v", err)
	}
	t.Cleanup(func() { a.Close(); b.Close() })
	return pair{a, b}
}

func (pr pair) close(p *Ports) {
	pr.rtp.Close()
	pr.rtcp.Close()
	p.Release(pr.rtp)
}

func TestNewPortsValidatesRange(t *testing.T) {
	for _, r := range [][2]int{{0, 2000}, {1000, 2000}, {5000, 5000}, {6000, 5000}, {60000, 70000}} {
		if _, err := NewPorts(loopback, r[0], r[1]); err == nil {
			t.Errorf("NewPorts(%d, %d): no error", r[0], r[1])
		}
	}
	if _, err := NewPorts(loopback, 1024, 65535); err != nil {
		t.Errorf("full range: %v", err)
	}
}

func TestPortsAllocatesEvenPairs(t *testing.T) {
	base := freeRange(t, 4)
	p, err := NewPorts(loopback, base, base+3)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int]bool{}
	for range 2 {
		pr := allocate(t, p)
		rtpPort, rtcpPort := portOf(pr.rtp), portOf(pr.rtcp)
		if rtpPort%2 != 0 || rtcpPort != rtpPort+1 {
			t.Errorf("got RTP %d RTCP %d, want an even port with RTCP on the next", rtpPort, rtcpPort)
		}
		if rtpPort < base || rtcpPort > base+3 {
			t.Errorf("port %d outside %d-%d", rtpPort, base, base+3)
		}
		if ip := pr.rtp.LocalAddr().(*net.UDPAddr).AddrPort().Addr(); ip != loopback {
			t.Errorf("bound to %v, want %v", ip, loopback)
		}
		if seen[rtpPort] {
			t.Errorf("port %d handed out twice", rtpPort)
		}
		seen[rtpPort] = true
	}
	if p.InUse() != 2 {
		t.Errorf("InUse %d, want 2", p.InUse())
	}
	if _, _, err := p.Allocate(); !errors.Is(err, ErrNoPorts) {
		t.Fatalf("third Allocate: err %v, want ErrNoPorts", err)
	}
}

func TestPortsOddBoundsStayInRange(t *testing.T) {
	base := freeRange(t, 6)
	// min odd rounds up; max even leaves the last even port without its
	// RTCP partner, so it must not be used.
	p, err := NewPorts(loopback, base+1, base+4)
	if err != nil {
		t.Fatal(err)
	}
	pr := allocate(t, p)
	if got := portOf(pr.rtp); got != base+2 {
		t.Fatalf("got port %d, want %d", got, base+2)
	}
	if _, _, err := p.Allocate(); !errors.Is(err, ErrNoPorts) {
		t.Fatalf("second Allocate: err %v, want ErrNoPorts (port %d has no RTCP partner in range)", err, base+4)
	}
}

func TestPortsReleaseAndRotate(t *testing.T) {
	base := freeRange(t, 6)
	p, err := NewPorts(loopback, base, base+5) // pairs base, base+2, base+4
	if err != nil {
		t.Fatal(err)
	}
	a := allocate(t, p)
	if portOf(a.rtp) != base {
		t.Fatalf("first port %d, want %d", portOf(a.rtp), base)
	}
	a.close(p)
	if p.InUse() != 0 {
		t.Fatalf("InUse %d after Release", p.InUse())
	}
	// The freed port is not reused at once: late packets of the last call
	// must not reach the next one.
	b := allocate(t, p)
	if portOf(b.rtp) != base+2 {
		t.Fatalf("after releasing %d got %d, want the next pair %d", base, portOf(b.rtp), base+2)
	}
	c := allocate(t, p)
	if portOf(c.rtp) != base+4 {
		t.Fatalf("got %d, want %d", portOf(c.rtp), base+4)
	}
	// Wrapping around reaches the freed port again.
	d := allocate(t, p)
	if portOf(d.rtp) != base {
		t.Fatalf("after wrapping got %d, want %d", portOf(d.rtp), base)
	}
	if _, _, err := p.Allocate(); !errors.Is(err, ErrNoPorts) {
		t.Fatalf("full range: err %v, want ErrNoPorts", err)
	}
	// Free one in the middle: it is the only candidate, so it is reused.
	c.close(p)
	e := allocate(t, p)
	if portOf(e.rtp) != base+4 {
		t.Fatalf("got %d, want the only free pair %d", portOf(e.rtp), base+4)
	}
	if p.InUse() != 3 {
		t.Errorf("InUse %d, want 3", p.InUse())
	}
}

func TestPortsSkipsPortsTakenByOthers(t *testing.T) {
	base := freeRange(t, 4)
	p, err := NewPorts(loopback, base, base+3)
	if err != nil {
		t.Fatal(err)
	}
	// Someone else holds the first RTCP port: that pair is unusable.
	squatter, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(loopback, uint16(base+1))))
	if err != nil {
		t.Fatal(err)
	}
	defer squatter.Close()
	pr := allocate(t, p)
	if portOf(pr.rtp) != base+2 {
		t.Fatalf("got %d, want %d", portOf(pr.rtp), base+2)
	}
	// The RTP socket of the failed pair was closed again.
	c, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(loopback, uint16(base))))
	if err != nil {
		t.Fatalf("port %d leaked by a failed allocation: %v", base, err)
	}
	c.Close()
	if _, _, err := p.Allocate(); !errors.Is(err, ErrNoPorts) {
		t.Fatalf("err %v, want ErrNoPorts", err)
	}
}

// When the calls in progress fall to half their peak and hang-ups pause,
// the heap goes back to the OS once; a few calls ending while most go on
// return nothing.
func TestPortsReturnHeapWhenCallsEnd(t *testing.T) {
	base := freeRange(t, 2*40)
	p, err := NewPorts(loopback, base, base+2*40-1)
	if err != nil {
		t.Fatal(err)
	}
	freed := make(chan struct{}, 4)
	p.mu.Lock()
	p.freeOS = func() { freed <- struct{}{} }
	p.mu.Unlock()
	var pairs []pair
	for range 40 {
		pairs = append(pairs, allocate(t, p))
	}
	// 40 → 30: most calls go on.
	for _, pr := range pairs[:10] {
		pr.close(p)
	}
	// 30 → 0: the wave of hang-ups at the end of a shift.
	for _, pr := range pairs[10:] {
		pr.close(p)
	}
	select {
	case <-freed:
	case <-time.After(5 * time.Second):
		t.Fatal("heap not returned after the calls ended")
	}
	select {
	case <-freed:
		t.Fatal("heap returned twice for one wave of hang-ups")
	case <-time.After(2 * returnAfter):
	}

	// A new peak of 20, of which 4 end: nothing to return.
	pairs = pairs[:0]
	for range 20 {
		pairs = append(pairs, allocate(t, p))
	}
	for _, pr := range pairs[:4] {
		pr.close(p)
	}
	select {
	case <-freed:
		t.Fatal("heap returned while most calls went on")
	case <-time.After(2 * returnAfter):
	}
	for _, pr := range pairs[4:] {
		pr.close(p)
	}
	select {
	case <-freed:
	case <-time.After(5 * time.Second):
		t.Fatal("heap not returned after the second wave")
	}
}
