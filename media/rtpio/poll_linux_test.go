package rtpio

import (
	"net"
	"net/netip"
	"runtime"
	"slices"
	"testing"
	"time"
)

// Forty legs take no goroutine each: their sockets are read by the
// pollers, which are gone again once the last leg closes. Every leg
// still gets its packets.
func TestPollersReadManyLegsWithoutAGoroutineEach(t *testing.T) {
	eventually(t, "pollers of earlier tests to stop", func() bool { return runningPollers() == 0 })
	before := runtime.NumGoroutine()
	var legs []*UDPLeg
	for range 40 {
		l, _ := newTestLeg(t, pcmuWithEvents)
		legs = append(legs, l)
	}
	if added := runtime.NumGoroutine() - before; added > len(rtpPollers)+len(rtcpPollers) {
		t.Fatalf("40 legs added %d goroutines; want at most the %d pollers", added, len(rtpPollers)+len(rtcpPollers))
	}
	far := listenPeer(t)
	for i, l := range legs {
		sendRTP(t, far, l.LocalAddr(), uint16(i+1))
	}
	for _, l := range legs {
		eventually(t, "every leg to get its packet", func() bool { return l.Reader.Received() == 1 })
	}
	for _, l := range legs {
		l.Close()
	}
	eventually(t, "pollers to stop after the last leg", func() bool { return runningPollers() == 0 })
}

func runningPollers() int {
	n := 0
	for _, ps := range [][]*poller{rtpPollers, rtcpPollers} {
		for _, p := range ps {
			p.mu.Lock()
			if p.running {
				n++
			}
			p.mu.Unlock()
		}
	}
	return n
}

// New sockets gather on the first poller until it is busy; then they
// go to the next with room, or the least busy; a load measured long ago
// is a poller that has been parked since.
func TestPickFillsThePollersInTurn(t *testing.T) {
	ps := newPollers(3)
	now := time.Now().UnixNano()
	set := func(loads ...int64) {
		for i, l := range loads {
			ps[i].load.Store(l)
			ps[i].loadAt.Store(now)
		}
	}
	for _, tc := range []struct {
		loads []int64
		want  int
	}{
		{[]int64{0, 0, 0}, 0},
		{[]int64{650, 0, 0}, 0},
		{[]int64{750, 100, 0}, 1},
		{[]int64{750, 900, 300}, 2},
		{[]int64{950, 800, 850}, 1},
	} {
		set(tc.loads...)
		if got := pick(ps); got != ps[tc.want] {
			t.Errorf("loads %v: picked poller %d, want %d", tc.loads, slices.Index(ps, got), tc.want)
		}
	}
	set(950, 800, 850)
	ps[0].loadAt.Store(now - int64(3*loadWindow))
	if got := pick(ps); got != ps[0] {
		t.Errorf("a poller parked since its last busy window was passed over (picked %d)", slices.Index(ps, got))
	}
}

// A panic while handling one datagram costs that datagram: the poller
// goes on reading its sockets.
func TestPollerSurvivesAPanicInADatagramsHandling(t *testing.T) {
	rx := listenOn(t, "127.0.0.1:0")
	got := make(chan string, 4)
	if !PollUDP(rx, NewRecvBatch(4, MTU+1), func(b []byte, _ netip.AddrPort, _ *SendQueue) {
		if string(b) == "boom" {
			panic("a bug in one call's media")
		}
		got <- string(b)
	}) {
		t.Fatal("not polled")
	}
	t.Cleanup(func() { UnpollUDP(rx) })
	tx := listenOn(t, "127.0.0.1:0")
	to := rx.LocalAddr().(*net.UDPAddr).AddrPort()
	for _, m := range []string{"before", "boom", "after"} {
		if _, err := tx.WriteToUDPAddrPort([]byte(m), to); err != nil {
			t.Fatal(err)
		}
	}
	for _, want := range []string{"before", "after"} {
		expectDatagram(t, got, want)
	}
}

// expectDatagram waits for the next datagram a poller handed on.
func expectDatagram(t *testing.T, got <-chan string, want string) {
	t.Helper()
	select {
	case m := <-got:
		if m != want {
			t.Fatalf("got %q, want %q", m, want)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("%q never arrived", want)
	}
}

// A busy poller holding a shared (WebRTC) socket next to SIP legs hands
// the shared socket to an idle poller; the legs stay, and the shared
// socket's datagrams keep arriving from its new poller.
func TestBusyPollerShedsItsSharedSocket(t *testing.T) {
	ps := newPollers(2)
	shared, leg := listenOn(t, "127.0.0.1:0"), listenOn(t, "127.0.0.1:0")
	got := make(chan string, 4)
	if !pollWith(ps[:1], shared, NewRecvBatch(4, MTU+1), func(b []byte, _ netip.AddrPort, _ *SendQueue) { got <- string(b) }) ||
		!pollWith(ps[:1], leg, nil, func([]byte, netip.AddrPort, *SendQueue) {}) {
		t.Fatal("not polled")
	}
	t.Cleanup(func() { unpollUDP(ps, shared); unpollUDP(ps, leg) })
	tx := listenOn(t, "127.0.0.1:0")
	send := func(m string) {
		t.Helper()
		if _, err := tx.WriteToUDPAddrPort([]byte(m), shared.LocalAddr().(*net.UDPAddr).AddrPort()); err != nil {
			t.Fatal(err)
		}
		expectDatagram(t, got, m)
	}
	send("before")

	ps[0].shed(time.Now().UnixNano())
	holds := func(p *poller, c *net.UDPConn) bool {
		p.mu.Lock()
		defer p.mu.Unlock()
		for _, s := range p.socks {
			if s.conn == c {
				return true
			}
		}
		return false
	}
	if holds(ps[0], shared) || !holds(ps[1], shared) || !holds(ps[0], leg) {
		t.Fatal("the shared socket did not move to the idle poller alone")
	}
	send("after")
}
