package cti_test

import (
	"testing"

	"github.com/ringbridge/ringbridge/cti"
	"github.com/ringbridge/ringbridge/cti/ctitest"
	"github.com/ringbridge/ringbridge/cti/queue"
)

// A ring-all queue rings every free member at once; the first to answer
// takes the call and the others stop ringing (answered elsewhere), which
// the call's queue story records.
func TestRingAllFirstAnswerWins(t *testing.T) {
	svc, _ := newService(t, cti.Config{Numbers: map[string]cti.NumberRoute{
		"15550003000": {TenantID: "demo", Route: cti.RouteQueue, Queue: "all"}}})
	if _, err := svc.CreateQueue(t.Context(), fwdAdmin, cti.QueueConfig{Name: "all", Strategy: queue.RingAll, Members: []string{"1001", "1002"}}); err != nil {
		t.Fatal(err)
	}
	a, _ := svc.Connect(t.Context(), principal("1001"), false)
	b, _ := svc.Connect(t.Context(), principal("1002"), false)
	leg := ctitest.NewInboundLeg("in")
	if err := svc.InboundCall(t.Context(), cti.InboundCall{Trunk: "t", From: "15557654321", To: "15550003000", Leg: leg}); err != nil {
		t.Fatal(err)
	}
	ringA := nextCall(t, a, cti.CallRinging)
	ringB := nextCall(t, b, cti.CallRinging)
	if ringA.ID != ringB.ID || ringA.Queue != "all" {
		t.Fatalf("rang %s and %s (queue %q)", ringA.ID, ringB.ID, ringA.Queue)
	}
	if err := b.Answer(ringB.ID); err != nil {
		t.Fatal(err)
	}
	if ended := nextCall(t, a, cti.CallEnded); ended.EndReason != cti.EndAnsweredElsewhere {
		t.Fatalf("the other member's call ended as %s", ended.EndReason)
	}
	nextCall(t, b, cti.CallActive)
	if err := a.Answer(ringA.ID); err == nil {
		t.Fatal("a second answer was taken")
	}
	leg.RemoteHangup()
	nextCall(t, b, cti.CallEnded) // told once the record is stored
	rec, err := svc.GetCall(t.Context(), fwdAdmin, ringA.ID)
	if err != nil {
		t.Fatal(err)
	}
	q := rec.Queue
	if q == nil || q.Outcome != "answered" || len(q.Offers) != 2 {
		t.Fatalf("queue story %+v", q)
	}
	outcomes := map[string]string{}
	for _, o := range q.Offers {
		outcomes[o.Extension] = o.Outcome
	}
	if outcomes["1001"] != "answered_elsewhere" || outcomes["1002"] != "answered" {
		t.Fatalf("offers %+v", q.Offers)
	}
}
