package cti_test

import (
	"context"
	"testing"
	"time"

	"github.com/ringbridge/ringbridge/cti"
	"github.com/ringbridge/ringbridge/cti/ctitest"
	"github.com/ringbridge/ringbridge/cti/queue"
)

// A queue's strategy weighs the members signed in on other nodes with
// what the bus says of them: under longest idle, a member of node B idle
// longer than the free member of node A (the call's node) is offered the
// call first, through a leg to node B; when the local member is idle
// longer, the local member rings and nothing is dialled.
func TestQueueStrategySpansNodes(t *testing.T) {
	for _, tc := range []struct {
		name, first, want string
	}{
		{"remote member idle longer", "1002", "1002"},
		{"local member idle longer", "1001", "1001"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			st := demoStore(t)
			bus, dir := cti.NewLocalBus(), cti.NewLocalDirectory(0)
			cfg := cti.Config{NodeTimeout: 2 * time.Second, Numbers: map[string]cti.NumberRoute{
				"15550003000": {TenantID: "demo", Route: cti.RouteQueue, Queue: "support"}}}
			node := func(name, sip string, m *ctitest.Media) *cti.Service {
				svc := cti.New(cfg, st, m, nil)
				t.Cleanup(svc.Close)
				if err := svc.SetBus(name, bus); err != nil {
					t.Fatal(err)
				}
				svc.SetDirectory(name, sip, dir)
				return svc
			}
			ma := &ctitest.Media{DialFunc: func(_ context.Context, req cti.DialRequest) (cti.OutboundLeg, error) {
				return ctitest.NewOutboundLeg("out", req.To), nil
			}}
			a, b := node("a", "10.0.0.1:5060", ma), node("b", "10.0.0.2:5060", &ctitest.Media{})
			// Member 1001 signs in on node A, 1002 on node B; tc.first
			// becomes free first, so it has been idle longer.
			on := map[string]*cti.Service{"1001": a, "1002": b}
			sessions := map[string]*cti.AgentSession{}
			for _, ext := range []string{tc.first, map[string]string{"1001": "1002", "1002": "1001"}[tc.first]} {
				ss, err := on[ext].Connect(ctx, principal(ext), false)
				if err != nil {
					t.Fatal(err)
				}
				sessions[ext] = ss
				time.Sleep(20 * time.Millisecond) // distinct idle times
			}
			if _, err := a.CreateQueue(ctx, fwdAdmin, cti.QueueConfig{Name: "support", Strategy: queue.LongestIdle,
				Members: []string{"1001", "1002"}, RingSeconds: 10}); err != nil {
				t.Fatal(err)
			}
			deadline := time.Now().Add(5 * time.Second)
			for agentIn(t, a, fwdAdmin, "1002").Status != cti.StatusAvailable {
				if time.Now().After(deadline) {
					t.Fatal("node A never learned that 1002 is available on node B")
				}
				time.Sleep(20 * time.Millisecond)
			}
			if err := a.InboundCall(ctx, cti.InboundCall{Trunk: "t", From: "15557654321", To: "15550003000",
				Leg: ctitest.NewInboundLeg("in")}); err != nil {
				t.Fatal(err)
			}
			if tc.want == "1001" {
				nextCall(t, sessions["1001"], cti.CallRinging)
				if d := ma.DialRequests(); len(d) != 0 {
					t.Fatalf("node A dialled %+v while its own member was idle longer", d)
				}
				return
			}
			for len(ma.DialRequests()) == 0 {
				if time.Now().After(deadline) {
					t.Fatal("node A never offered the call to 1002 on node B")
				}
				time.Sleep(20 * time.Millisecond)
			}
			if d := ma.DialRequests()[0]; d.To != "1002" || d.Node != "10.0.0.2:5060" || d.Handover == "" {
				t.Fatalf("node A dialled %+v, want 1002 at node B with a handover", d)
			}
		})
	}
}
