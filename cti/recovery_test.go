package cti_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/ringbridge/ringbridge/cti"
	"github.com/ringbridge/ringbridge/cti/ctitest"
	"github.com/ringbridge/ringbridge/cti/store/sqlite"
)

// A dial the trunk refuses at once is still a call in the history.
func TestFailedDialLeavesARecord(t *testing.T) {
	svc, _ := newService(t, cti.Config{})
	events := &ctitest.Events{}
	svc.SetEventSink(events)
	ss, err := svc.Connect(context.Background(), principal("1001"), false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ss.Dial(context.Background(), "+1 555 765 4321"); cti.ErrorKind(err) != cti.KindUnavailable {
		t.Fatalf("dial: %v", err)
	}
	var ended *cti.CallRecord
	for _, ev := range events.All() {
		if ev.Type == cti.EventCallEnded {
			ended = ev.Data.(*cti.CallRecord)
		}
	}
	if ended == nil || ended.EndReason != cti.EndFailed || ended.Direction != cti.DirectionOutbound || len(ended.Agents) != 1 {
		t.Fatalf("call.ended of the failed dial: %+v", ended)
	}
	if _, err := svc.GetCall(context.Background(), principal("1001"), ended.ID); err != nil {
		t.Fatalf("the failed dial is not in the history: %v", err)
	}
}

// What a crash leaves — a live call's picture, a signed-in agent — is
// accounted for by the next Start: the call gets its interrupted record
// and call.ended, the agent goes offline, and neither is reported twice.
func TestStartRecoversInterruptedCallsAndAgents(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "rb.db")
	st, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.CreateTenant(ctx, &cti.Tenant{ID: "demo", Name: "Demo"}); err != nil {
		t.Fatal(err)
	}
	started := time.Now().UTC().Add(-time.Minute)
	answered := started.Add(5 * time.Second)
	seen := started.Add(50 * time.Second)
	live := cti.CallRecord{ID: "call_x", TenantID: "demo", Direction: cti.DirectionInbound, From: "15557654321", To: "1001",
		StartedAt: started, AnsweredAt: answered, Tags: []string{},
		Legs:   []cti.LegRecord{{SIPCallID: "sip-x", Direction: cti.DirectionInbound, StartedAt: started, AnsweredAt: answered}},
		Agents: []cti.AgentSegment{{Extension: "1001", RingStartedAt: started, AnsweredAt: answered}}}
	alice := &cti.AgentStatusChange{TenantID: "demo", Extension: "1001", Status: cti.StatusAway, Reason: "lunch", ChangedAt: started}
	if err := st.ApplyEventState(ctx, &cti.EventState{LiveCall: &cti.LiveCall{Record: live, SeenAt: seen}, Presence: alice}); err != nil {
		t.Fatal(err)
	}

	for round := range 2 {
		events := &ctitest.Events{}
		svc := cti.New(cti.Config{}, st, &ctitest.Media{}, nil)
		svc.SetEventSink(events)
		if err := svc.Start(ctx); err != nil {
			t.Fatal(err)
		}
		svc.Close()
		got := events.All()
		if round == 1 {
			if len(got) != 0 {
				t.Fatalf("second start reported again: %+v", got)
			}
			break
		}
		if len(got) != 2 || got[0].Type != cti.EventCallEnded || got[1].Type != cti.EventAgentStatus {
			t.Fatalf("events at start: %+v", got)
		}
		rec := got[0].Data.(*cti.CallRecord)
		if rec.EndReason != cti.EndInterrupted || !rec.EndedAt.Equal(seen) || rec.Legs[0].EndReason != cti.EndInterrupted ||
			rec.Agents[0].EndReason != cti.EndInterrupted || rec.Durations.Talk != 45 || rec.Durations.Total != 50 {
			t.Fatalf("interrupted record: %+v", rec)
		}
		ch := got[1].Data.(*cti.AgentStatusChange)
		if ch.Status != cti.StatusOffline || ch.PreviousStatus != cti.StatusAway || ch.PreviousReason != "lunch" || ch.PreviousSeconds < 59 {
			t.Fatalf("agent status at start: %+v", ch)
		}
		stored, err := st.GetCallRecord(ctx, "demo", "call_x")
		if err != nil || stored.EndReason != cti.EndInterrupted {
			t.Fatalf("stored record: %+v, %v", stored, err)
		}
	}
}
