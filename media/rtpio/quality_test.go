package rtpio

import (
	"testing"
	"time"

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

// Two real legs on loopback: each reports on the other's stream, so each
// learns the loss the other saw and the round trip.
func TestRTCPReportsLossAndRoundTrip(t *testing.T) {
	a, _ := newTestLeg(t, pcmuWithEvents)
	b, _ := newTestLeg(t, pcmuWithEvents)
	a.SetRemote(b.LocalAddr())
	b.SetRemote(a.LocalAddr())
	f := audioFrame(CodecPCMU, 0, 1, 160, make([]byte, 160))
	for i := range 100 {
		f.Header.SequenceNumber, f.Header.Timestamp = uint16(i), uint32(i*160)
		if i%5 == 2 {
			continue // lost between a and b: a gap in the sequence
		}
		a.Writer.WriteFrame(f)
		b.Writer.WriteFrame(f)
	}
	eventually(t, "b to receive a's stream", func() bool { return b.Reader.Reception().Received == 80 })
	if rx := b.Reader.Reception(); rx.Expected-rx.Received != 20 {
		t.Fatalf("b counts %d lost, want 20", rx.Expected-rx.Received)
	}
	a.SendReport(time.Now()) // a's SR: b will echo its time
	eventually(t, "b to hear a's sender report", func() bool { return b.reports.lastSRAt.Load() != 0 })
	time.Sleep(5 * time.Millisecond) // b holds the SR a moment: DLSR must be subtracted
	b.SendReport(time.Now())
	eventually(t, "a to hear b's report", func() bool { return a.RTCPStats().Reports > 0 })
	st := a.RTCPStats()
	if st.FractionLost < 0.18 || st.FractionLost > 0.21 {
		t.Fatalf("a learns its stream lost %.3f, want 20/100", st.FractionLost)
	}
	if st.RTT <= 0 || st.RTT > 50*time.Millisecond {
		t.Fatalf("round trip on loopback %v, want a few ms at most (DLSR subtracted)", st.RTT)
	}
}
