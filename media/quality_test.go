package media_test

import (
	"testing"
	"time"

	"github.com/ringbridge/ringbridge/cti"
)

// A caller on a lossy line: the far end drops a fifth of its packets.
// The agent is warned that the caller's line is bad, supervisors see the
// call turn poor, and the call record keeps it; the agent's own leg
// (a clean loopback) stays good.
func TestPacketLossOnTheCallersLineWarns(t *testing.T) {
	h := newHarness(t, harnessOpts{ctiConfig: func(c *cti.Config) { c.QualityInterval = time.Second }})
	watch, _, err := h.svc.Watch(h.ctx, cti.Principal{TenantID: tenant, Role: cti.RoleAdmin, Username: "boss"})
	if err != nil {
		t.Fatal(err)
	}
	defer watch.Close()
	a := h.signIn("1001", agentTone)
	ring, far := h.answerInbound(a, didAgent1)
	a.waitCall(cti.CallActive)
	a.hears(carrierTone)
	far.call.SetSendLoss(0.2)

	// The agent's warning names the caller's side.
	deadline := time.After(20 * time.Second)
	var warned cti.AgentQuality
	for warned.Level != cti.QualityPoor {
		select {
		case warned = <-a.quality:
		case <-deadline:
			t.Fatalf("no poor-quality warning; last %+v", warned)
		}
	}
	if warned.CallID != ring.ID || warned.Side != cti.SideRemote {
		t.Fatalf("warning %+v: want call %s, side remote", warned, ring.ID)
	}
	sip, agentLeg := legOf(warned.Legs, cti.LegSIP), legOf(warned.Legs, cti.LegAgent)
	if sip == nil || sip.Level != cti.QualityPoor || sip.LossPercent < 5 || sip.MOS >= 3.6 {
		t.Fatalf("the SIP leg %+v: want poor with the loss measured", sip)
	}
	if agentLeg == nil || agentLeg.Level != cti.QualityGood || agentLeg.Extension != "1001" {
		t.Fatalf("the agent's leg %+v: want good", agentLeg)
	}

	// Supervisors see the call turn poor, with the legs' figures.
	for {
		select {
		case d := <-watch.Deltas():
			if d.Call == nil || d.Call.ID != ring.ID || d.Call.Quality != cti.QualityPoor {
				continue
			}
			if l := legOf(d.Call.Legs, cti.LegSIP); l == nil || l.LossPercent < 5 {
				t.Fatalf("supervisors see the SIP leg as %+v", l)
			}
		case <-watch.Done():
			t.Fatal("supervisor feed cut")
		case <-deadline:
			t.Fatal("supervisors never saw the call turn poor")
		}
		break
	}

	// Our receiver reports tell the far end what it lost of its stream
	// (which, as it dropped the packets itself, it does not charge to the
	// line between us).
	for far.call.RTCPStats().ReportedLost < 10 {
		select {
		case <-deadline:
			t.Fatalf("the far end was never told of its loss: %+v", far.call.RTCPStats())
		case <-time.After(50 * time.Millisecond):
		}
	}

	if err := a.sess.Hangup(ring.ID); err != nil {
		t.Fatal(err)
	}
	waitDone(t, far.call)
	var rec *cti.CallRecord
	for rec == nil {
		rec, _ = h.store.GetCallRecord(h.ctx, tenant, ring.ID)
		if rec == nil {
			select {
			case <-deadline:
				t.Fatal("no call record")
			case <-time.After(20 * time.Millisecond):
			}
		}
	}
	var sipSum, agentSum *cti.LegQualitySummary
	for i := range rec.Quality {
		switch rec.Quality[i].Kind {
		case cti.LegSIP:
			sipSum = &rec.Quality[i]
		case cti.LegAgent:
			agentSum = &rec.Quality[i]
		}
	}
	if sipSum == nil || sipSum.PoorSamples == 0 || sipSum.LossPercentMax < 5 || sipSum.MOSMin >= 3.6 || sipSum.SIPCallID == "" {
		t.Fatalf("the record keeps the SIP leg as %+v", sipSum)
	}
	if agentSum == nil || agentSum.PoorSamples != 0 || agentSum.Level != cti.QualityGood {
		t.Fatalf("the record keeps the agent's leg as %+v", agentSum)
	}
}

func legOf(legs []cti.LegQuality, k cti.LegKind) *cti.LegQuality {
	for i := range legs {
		if legs[i].Kind == k {
			return &legs[i]
		}
	}
	return nil
}

// An agent on a lossy network: their browser's packets are lost on the
// way in. The agent is told it is their own network; the caller's line
// stays good.
func TestPacketLossOnTheAgentsNetworkWarns(t *testing.T) {
	h := newHarness(t, harnessOpts{ctiConfig: func(c *cti.Config) { c.QualityInterval = time.Second }})
	a := h.signIn("1001", agentTone)
	ring, far := h.answerInbound(a, didAgent1)
	a.waitCall(cti.CallActive)
	far.hears(t, h.ctx, agentTone)
	a.client.SetSendLoss(0.2)

	deadline := time.After(20 * time.Second)
	var warned cti.AgentQuality
	for warned.Level != cti.QualityPoor {
		select {
		case warned = <-a.quality:
		case <-deadline:
			t.Fatalf("no poor-quality warning; last %+v", warned)
		}
	}
	if warned.CallID != ring.ID || warned.Side != cti.SideLocal {
		t.Fatalf("warning %+v: want call %s, side local", warned, ring.ID)
	}
	if l := legOf(warned.Legs, cti.LegAgent); l == nil || l.Level != cti.QualityPoor || l.LossPercent < 5 {
		t.Fatalf("the agent's leg %+v: want poor with the loss measured", l)
	}
	if l := legOf(warned.Legs, cti.LegSIP); l == nil || l.Level != cti.QualityGood {
		t.Fatalf("the caller's leg %+v: want good", l)
	}
}
