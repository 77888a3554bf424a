package rtpio

import (
	"testing"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
)

func TestReceptionCountsLossAndJitter(t *testing.T) {
	var s reception
	start := time.Unix(1000, 0).UnixNano()
	h := rtp.Header{SSRC: 9, SequenceNumber: 65530, Timestamp: 1000}
	sent, got := 0, 0
	for i := range 200 {
		sent++
		// Every fifth packet is lost on the way; the rest arrive on time
		// except every other one, 10 ms late.
		if i%5 != 4 {
			late := int64(0)
			if i%2 == 1 {
				late = int64(10 * time.Millisecond)
			}
			s.update(&h, true, start+int64(i)*int64(20*time.Millisecond)+late)
			got++
		}
		h.SequenceNumber++ // wraps past 65535 on purpose
		h.Timestamp += 160
	}
	r := s.read()
	// The last packet (i = 199) was lost, so the count stops at 199.
	if r.Expected != uint64(sent-1) || r.Received != uint64(got) {
		t.Fatalf("expected %d received %d, want %d and %d", r.Expected, r.Received, sent-1, got)
	}
	if r.Jitter < 4*time.Millisecond || r.Jitter > 12*time.Millisecond {
		t.Fatalf("jitter %v, want about 10 ms of alternating delay", r.Jitter)
	}

	// A restarted source is not thousands of lost packets.
	h.SSRC, h.SequenceNumber = 10, 7
	s.update(&h, true, start+int64(5*time.Second))
	h.SequenceNumber = 20000
	s.update(&h, true, start+int64(5*time.Second+20*time.Millisecond))
	if r2 := s.read(); r2.Expected-r.Expected != 2 || r2.Received-r.Received != 2 {
		t.Fatalf("a new source and a jump counted as %d expected, %d received", r2.Expected-r.Expected, r2.Received-r.Received)
	}
}

// Two real legs on loopback: a relays a source with gaps (every fifth
// packet lost upstream); b counts them lost and reports so; a learns the
// round trip, and that b's own leg lost nothing: the gaps were holes in
// what a sent.
func TestRTCPReportsLossAndRoundTrip(t *testing.T) {
	a, _ := newTestLeg(t, pcmuWithEvents)
	b, _ := newTestLeg(t, pcmuWithEvents)
	a.SetRemote(b.LocalAddr())
	b.SetRemote(a.LocalAddr())
	f := audioFrame(CodecPCMU, 0, 1, 160, make([]byte, 160))
	send := func(from, to int) {
		for i := from; i < to; i++ {
			f.Header.SequenceNumber, f.Header.Timestamp = uint16(i), uint32(i*160)
			if i%5 == 2 {
				continue // lost upstream: a gap in the source
			}
			a.Writer.WriteFrame(f)
			b.Writer.WriteFrame(f)
		}
	}
	send(0, 50)
	eventually(t, "b to receive a's stream", func() bool { return b.Reader.Reception().Received == 40 })
	a.SendReport(time.Now()) // a's SR: b will echo its time
	eventually(t, "b to hear a's sender report", func() bool { return b.reports.lastSRAt.Load() != 0 })
	time.Sleep(5 * time.Millisecond) // b holds the SR a moment: DLSR must be subtracted
	b.SendReport(time.Now())
	eventually(t, "a to measure the round trip", func() bool { return a.RTCPStats().RTT > 0 })
	send(50, 100)
	eventually(t, "b to receive the rest", func() bool { return b.Reader.Reception().Received == 80 })
	if rx := b.Reader.Reception(); rx.Expected-rx.Received != 20 {
		t.Fatalf("b counts %d lost, want 20", rx.Expected-rx.Received)
	}
	if h := a.Writer.Holes(); h != 20 {
		t.Fatalf("a counts %d holes in what it sent, want 20", h)
	}
	b.SendReport(time.Now())
	eventually(t, "a to hear b's second report", func() bool { return a.RTCPStats().Reports > 0 })
	st := a.RTCPStats()
	if st.FractionLost != 0 {
		t.Fatalf("b's own leg charged with %.3f lost; the gaps were a's holes", st.FractionLost)
	}
	if st.RTT <= 0 || st.RTT > 50*time.Millisecond {
		t.Fatalf("round trip on loopback %v, want a few ms at most (DLSR subtracted)", st.RTT)
	}
}

// Loss a receiver reports beyond our holes is its own leg's.
func TestRemoteReportsChargeOnlyTheReceiversLoss(t *testing.T) {
	var r RemoteReports
	now := time.Now()
	rr := func(seq, lost uint32) *rtcp.ReceiverReport {
		return &rtcp.ReceiverReport{Reports: []rtcp.ReceptionReport{{SSRC: 5, LastSequenceNumber: seq, TotalLost: lost}, {SSRC: 6, TotalLost: 999}}}
	}
	r.Observe(rr(100, 3), 5, 3, now)
	if st := r.Stats(); st.Reports != 0 {
		t.Fatalf("one report measures nothing yet: %+v", st)
	}
	// 100 more expected, 25 more lost, 5 of them never sent by us.
	r.Observe(rr(200, 28), 5, 8, now)
	if st := r.Stats(); st.Reports != 1 || st.FractionLost < 0.199 || st.FractionLost > 0.201 {
		t.Fatalf("own loss: %+v, want 20/100", st)
	}
	// All the loss is ours: the receiver's leg is clean.
	r.Observe(rr(300, 38), 5, 18, now)
	if st := r.Stats(); st.Reports != 2 || st.FractionLost != 0 {
		t.Fatalf("holes only: %+v", st)
	}
}
