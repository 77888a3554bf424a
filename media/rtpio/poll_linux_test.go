package rtpio

import (
	"runtime"
	"testing"
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
