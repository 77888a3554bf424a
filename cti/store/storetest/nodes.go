package storetest

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ringbridge/ringbridge/cti"
	"github.com/ringbridge/ringbridge/cti/store/sqlstore"
)

// A dead node's live calls and signed-in agents are adopted by the
// survivors exactly once, however many adopt at the same time; a node
// whose heartbeat is fresh is not lost, and its calls stay its own.
func testLostNodeAdoptedOnce(t *testing.T, db NewDB) {
	open := db(t)
	dead, alive := open(t), open(t)
	dead.SetNode("dead")
	alive.SetNode("alive")
	ctx := t.Context()
	var ids []string
	for i := range 20 {
		rec := cti.CallRecord{ID: fmt.Sprintf("lost%02d", i), TenantID: "a", Direction: cti.DirectionInbound, StartedAt: t0}
		if err := dead.ApplyEventState(ctx, &cti.EventState{LiveCall: &cti.LiveCall{Record: rec, SeenAt: t0}}); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, rec.ID)
	}
	for _, st := range []*cti.EventState{presence("1001", cti.StatusAvailable, "", t0), presence("1002", cti.StatusAway, "lunch", t0),
		presence("1003", cti.StatusOffline, "", t0)} {
		if err := dead.ApplyEventState(ctx, st); err != nil {
			t.Fatal(err)
		}
	}
	if err := dead.TouchLiveCalls(ctx, ids, t0); err != nil {
		t.Fatal(err)
	}
	// The live node's call and heartbeat are recent.
	now := t0.Add(time.Minute)
	mine := cti.CallRecord{ID: "kept", TenantID: "a", Direction: cti.DirectionInbound, StartedAt: now}
	if err := alive.ApplyEventState(ctx, &cti.EventState{LiveCall: &cti.LiveCall{Record: mine, SeenAt: now}}); err != nil {
		t.Fatal(err)
	}
	if err := alive.TouchLiveCalls(ctx, []string{"kept"}, now); err != nil {
		t.Fatal(err)
	}
	before := now.Add(-15 * time.Second)

	survivors := make([]*sqlstore.Store, 4)
	for i := range survivors {
		s := open(t)
		s.SetNode(fmt.Sprint("s", i))
		survivors[i] = s
	}
	lost, err := survivors[0].LostNodes(ctx, before)
	if err != nil || !slices.Equal(lost, []string{"dead"}) {
		t.Fatalf("lost nodes %v, %v; want [dead]", lost, err)
	}
	var mu sync.Mutex
	gotCalls, gotAgents := map[string]int{}, map[string]int{}
	var wg sync.WaitGroup
	for _, s := range survivors {
		wg.Go(func() {
			calls, err := s.AdoptLiveCalls(ctx, "dead", before)
			if err != nil {
				t.Error(err)
				return
			}
			agents, err := s.AdoptPresence(ctx, "dead", before)
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			for _, c := range calls {
				gotCalls[c.Record.ID]++
				if !c.SeenAt.Equal(t0) {
					t.Errorf("call %s seen at %v, want %v", c.Record.ID, c.SeenAt, t0)
				}
			}
			for _, a := range agents {
				gotAgents[a.Extension]++
			}
		})
	}
	wg.Wait()
	for _, id := range ids {
		if gotCalls[id] != 1 {
			t.Errorf("call %s adopted %d times", id, gotCalls[id])
		}
	}
	if len(gotCalls) != len(ids) {
		t.Errorf("adopted %v", gotCalls)
	}
	if len(gotAgents) != 2 || gotAgents["1001"] != 1 || gotAgents["1002"] != 1 {
		t.Errorf("adopted agents %v; want 1001 and 1002 once each", gotAgents)
	}
	for _, s := range survivors { // survivors are alive too
		if err := s.TouchLiveCalls(ctx, nil, now); err != nil {
			t.Fatal(err)
		}
	}
	// Nothing of the live node's is taken, even when asked for by name.
	if calls, err := survivors[0].AdoptLiveCalls(ctx, "alive", before); err != nil || len(calls) != 0 {
		t.Fatalf("adopted a live node's calls: %+v, %v", calls, err)
	}
	if live, err := alive.LiveCalls(ctx); err != nil || len(live) != 1 || live[0].Record.ID != "kept" {
		t.Fatalf("live node's calls %+v, %v", live, err)
	}
	if lost, err := survivors[0].LostNodes(ctx, before); err != nil || len(lost) != 0 {
		t.Fatalf("lost nodes after adoption %v, %v; want none", lost, err)
	}
}
