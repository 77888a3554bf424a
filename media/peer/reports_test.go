package peer

import (
	"context"
	"testing"
	"time"

	"github.com/pion/rtcp"
	"github.com/ringbridge/ringbridge/cti"
	"github.com/ringbridge/ringbridge/media/rtpio"
)

// testEndpoint is what the tests use of either stack's endpoint.
type testEndpoint interface {
	cti.AgentEndpoint
	Writer() *rtpio.Writer
	Reader() *rtpio.Reader
	MediaStats() cti.MediaStats
}

// connectPair brings up a server endpoint and a loopback client.
func connectPair(t *testing.T, cfg Config, copts ClientOptions) (testEndpoint, *Client) {
	t.Helper()
	api := liteServerStack(t, cfg)
	capi, err := NewClientAPIWith(copts)
	if err != nil {
		t.Fatal(err)
	}
	return connect(t, api, capi, cti.AgentEndpointEvents{})
}

// The server's reports come from the API's shared loop: the client gets
// sender reports counting what it was sent, with a block about its own
// stream, and once the client's receiver reports echo them the server
// knows the round trip and the client's loss.
func TestEndpointSendsReportsAndMeasuresRoundTrip(t *testing.T) {
	bothStacks(t, testReportsAndRoundTrip)
}

// bothStacks runs a test on each endpoint stack.
func bothStacks(t *testing.T, test func(t *testing.T, stack string)) {
	for _, stack := range []string{StackLite, StackPion} {
		t.Run(stack, func(t *testing.T) { test(t, stack) })
	}
}

func testReportsAndRoundTrip(t *testing.T, stack string) {
	ep, c := connectPair(t, Config{Stack: stack, ReportInterval: 200 * time.Millisecond}, ClientOptions{ReportInterval: 200 * time.Millisecond})
	c.SendAudio(func(dst []byte) { clear(dst) })

	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	go func() {
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		var f rtpio.Frame
		f.Payload, f.Codec = make([]byte, 160), rtpio.CodecPCMU
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			ep.Writer().WriteFrame(&f)
			f.Header.SequenceNumber++
			f.Header.Timestamp += 160
		}
	}()

	// Reading the client's receiver RTCP is what lets its report
	// interceptor see our sender reports (and echo them in LSR).
	srs := make(chan *rtcp.SenderReport, 16)
	go func() {
		recv := c.pc.GetReceivers()[0]
		for ctx.Err() == nil {
			pkts, _, err := recv.ReadRTCP()
			if err != nil {
				return
			}
			for _, p := range pkts {
				if sr, ok := p.(*rtcp.SenderReport); ok {
					select {
					case srs <- sr:
					default:
					}
				}
			}
		}
	}()

	var sr *rtcp.SenderReport
	for sr == nil || sr.PacketCount == 0 || len(sr.Reports) == 0 {
		select {
		case sr = <-srs:
		case <-ctx.Done():
			t.Fatalf("no sender report with a reception block; last %+v", sr)
		}
	}
	if sr.SSRC != ep.Writer().SSRC() || sr.OctetCount < 160*sr.PacketCount {
		t.Fatalf("sender report %+v: want our SSRC %d and 160 bytes a packet", sr, ep.Writer().SSRC())
	}
	for {
		st := ep.MediaStats()
		if st.RTT > 0 && st.Reports > 0 {
			if st.RTT > time.Second {
				t.Fatalf("round trip %v on loopback", st.RTT)
			}
			if st.FractionLost != 0 {
				t.Fatalf("fraction lost %v on loopback", st.FractionLost)
			}
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("no round trip measured: %+v", st)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// A session with no media either way sends no reports.
func TestIdleEndpointSendsNoReports(t *testing.T) {
	bothStacks(t, testIdleSendsNoReports)
}

func testIdleSendsNoReports(t *testing.T, stack string) {
	ep, c := connectPair(t, Config{Stack: stack, ReportInterval: 100 * time.Millisecond}, ClientOptions{ReportInterval: time.Hour})
	got := make(chan rtcp.Packet, 1)
	go func() {
		for {
			pkts, _, err := c.pc.GetReceivers()[0].ReadRTCP()
			if err != nil {
				return
			}
			select {
			case got <- pkts[0]:
			default:
			}
		}
	}()
	// Five report intervals with nothing sent or received.
	select {
	case p := <-got:
		t.Fatalf("idle session sent %T", p)
	case <-time.After(500 * time.Millisecond):
	}
	// One packet each way makes the next tick report.
	var f rtpio.Frame
	f.Payload, f.Codec = make([]byte, 160), rtpio.CodecPCMU
	ep.Writer().WriteFrame(&f)
	select {
	case <-got:
	case <-time.After(5 * time.Second):
		t.Fatal("no report after media moved")
	}
}
