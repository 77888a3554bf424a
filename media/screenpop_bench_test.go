package media_test

import (
	"slices"
	"testing"
	"time"

	"github.com/ringbridge/ringbridge/cti"
)

// BenchmarkScreenPop measures INVITE → card on the agent's session: from
// the carrier sending the INVITE to the call event carrying the caller's
// card reaching the signed-in agent, over real SIP on loopback.
//
//	go test -run '^$' -bench ScreenPop -benchtime 300x ./media
//
// phonebook: the card comes from the embedded phonebook with the ringing
// event. crm-100ms: the tenant's CRM (an HTTP server on loopback) answers
// after 100 ms; the figure is until the CRM's card arrives, so it is the
// CRM's own time plus ours.
func BenchmarkScreenPop(b *testing.B) {
	b.Run("phonebook", func(b *testing.B) { benchScreenPop(b, 0) })
	b.Run("crm-100ms", func(b *testing.B) { benchScreenPop(b, 100*time.Millisecond) })
}

func benchScreenPop(b *testing.B, crmDelay time.Duration) {
	opts := harnessOpts{}
	want := "Ada (phonebook)"
	if crmDelay > 0 {
		c := newCRMServer(b)
		c.set(func(c *crmServer) {
			c.lookupDelay = crmDelay
			c.lookupBody = `{"name":"Ada (CRM)","tier":"gold"}`
		})
		go func() { // nobody waits on the request log here
			for range c.seen {
			}
		}()
		opts = crmOpts(b, c, cti.TenantSettings{}, nil)
		want = "Ada (CRM)"
	}
	h := newHarness(b, opts)
	h.addContact("Ada (phonebook)", "+"+callerNum)
	a := h.signIn("1001", agentTone)
	lat := make([]time.Duration, 0, b.N)

	b.ResetTimer()
	for range b.N {
		start := time.Now()
		calls, errs := h.dialIn(didAgent1)
		var ring cti.CallInfo
		for {
			ci := a.nextCallEvent()
			if ci.Card != nil && ci.Card.Name == want {
				lat = append(lat, time.Since(start))
				ring = ci
				break
			}
		}
		b.StopTimer()
		if err := a.sess.Reject(ring.ID); err != nil {
			b.Fatal(err)
		}
		select {
		case <-calls:
			b.Fatal("rejected call was answered")
		case <-errs:
		case <-time.After(10 * time.Second):
			b.Fatal("rejected call never ended")
		}
		a.waitCall(cti.CallEnded)
		b.StartTimer()
	}
	b.StopTimer()
	slices.Sort(lat)
	pct := func(p float64) float64 {
		return float64(lat[min(len(lat)-1, int(float64(len(lat))*p))].Microseconds()) / 1000
	}
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	b.ReportMetric(0, "ns/op") // the loop includes teardown; the percentiles are the figure
}
