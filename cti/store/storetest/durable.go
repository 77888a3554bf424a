package storetest

import (
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ringbridge/ringbridge/cti"
	"github.com/ringbridge/ringbridge/cti/store/sqlstore"
)

var t0 = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

func presence(ext string, st cti.AgentStatus, reason string, at time.Time) *cti.EventState {
	return &cti.EventState{Presence: &cti.AgentStatusChange{TenantID: "a", Extension: ext, UserID: "u" + ext,
		Username: "agent" + ext, Status: st, Reason: reason, ChangedAt: at}}
}

// A live call is kept until its final record replaces it in the same
// write; the heartbeat and the agents' last statuses survive a restart,
// and an older status arriving late does not overwrite a newer one.
func testDurableState(t *testing.T, db NewDB) {
	open := db(t)
	s := open(t)
	ctx := t.Context()
	Seed(t, s)
	rec := cti.CallRecord{ID: "call1", TenantID: "a", Direction: cti.DirectionInbound, From: "+4930111", To: "+4930222",
		StartedAt: t0}
	if err := s.ApplyEventState(ctx, &cti.EventState{LiveCall: &cti.LiveCall{Record: rec, RecordingID: "rec1", SeenAt: t0}}); err != nil {
		t.Fatal(err)
	}
	if err := s.TouchLiveCalls(ctx, []string{"call1", "gone"}, t0.Add(5*time.Second)); err != nil {
		t.Fatal(err)
	}
	for _, st := range []*cti.EventState{
		presence("1001", cti.StatusAvailable, "", t0.Add(2*time.Second)),
		presence("1001", cti.StatusAway, "lunch", t0.Add(time.Second)), // late and older: not current
		presence("1002", cti.StatusAvailable, "", t0),
		presence("1002", cti.StatusOffline, "", t0.Add(time.Second)),
	} {
		if err := s.ApplyEventState(ctx, st); err != nil {
			t.Fatal(err)
		}
	}

	s2 := open(t) // as a restarted process (or another node) sees it
	live, err := s2.LiveCalls(ctx)
	if err != nil || len(live) != 1 {
		t.Fatalf("LiveCalls = %+v, %v", live, err)
	}
	if l := live[0]; l.Record.ID != "call1" || l.RecordingID != "rec1" || !l.SeenAt.Equal(t0.Add(5*time.Second)) ||
		!l.Record.StartedAt.Equal(t0) {
		t.Fatalf("live call = %+v", l)
	}
	if hb, err := s2.Heartbeat(ctx); err != nil || !hb.Equal(t0.Add(5*time.Second)) {
		t.Fatalf("Heartbeat = %v, %v", hb, err)
	}
	p, err := s2.Presence(ctx)
	if err != nil || len(p) != 1 || p[0].Extension != "1001" || p[0].Status != cti.StatusAvailable {
		t.Fatalf("Presence = %+v, %v (want 1001 available only)", p, err)
	}

	rec.EndedAt, rec.EndReason = t0.Add(time.Minute), cti.EndReason("hangup")
	if err := s2.ApplyEventState(ctx, &cti.EventState{CallRecord: &rec}); err != nil {
		t.Fatal(err)
	}
	if live, err := s.LiveCalls(ctx); err != nil || len(live) != 0 {
		t.Fatalf("live calls after the record = %+v, %v", live, err)
	}
	if got, err := s.GetCallRecord(ctx, "a", "call1"); err != nil || !got.EndedAt.Equal(rec.EndedAt) {
		t.Fatalf("record = %+v, %v", got, err)
	}
}

// Time in status clips intervals to the period, ends current ones at now,
// and keeps intervals in order when changes arrive out of order.
func testTimeInStatus(t *testing.T, db NewDB) {
	s := db(t)(t)
	ctx := t.Context()
	for _, st := range []*cti.EventState{
		presence("1001", cti.StatusAvailable, "", t0),
		presence("1001", cti.StatusOnCall, "", t0.Add(20*time.Second)),
		presence("1001", cti.StatusAway, "lunch", t0.Add(60*time.Second)),
		presence("1001", cti.StatusAvailable, "", t0.Add(10*time.Second)), // late: splits the first stretch
		presence("1002", cti.StatusAvailable, "", t0.Add(30*time.Second)),
		presence("1002", cti.StatusOffline, "", t0.Add(40*time.Second)),
	} {
		if err := s.ApplyEventState(ctx, st); err != nil {
			t.Fatal(err)
		}
	}
	now := t0.Add(100 * time.Second)
	got, err := s.TimeInStatus(ctx, "a", cti.StatusQuery{From: t0.Add(5 * time.Second)}, now)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]float64{
		"1001/available/": 15, // 5..10 and 10..20
		"1001/on_call/":   40,
		"1001/away/lunch": 40, // current: ends at now
		"1002/available/": 10,
	}
	if len(got) != len(want) {
		t.Fatalf("TimeInStatus = %+v", got)
	}
	for _, g := range got {
		k := g.Extension + "/" + string(g.Status) + "/" + g.Reason
		if want[k] != g.Seconds {
			t.Errorf("%s = %vs, want %vs", k, g.Seconds, want[k])
		}
		if g.Extension == "1001" && g.Username != "agent1001" {
			t.Errorf("%s username %q", k, g.Username)
		}
	}
	if other, err := s.TimeInStatus(ctx, "b", cti.StatusQuery{}, now); err != nil || len(other) != 0 {
		t.Fatalf("tenant b sees %+v, %v", other, err)
	}

	// History, newest first, in pages of two.
	var all []cti.StatusInterval
	cursor := ""
	for range 5 {
		page, next, err := s.StatusHistory(ctx, "a", cti.StatusQuery{Extension: "1001"}, cti.Page{Limit: 2, Cursor: cursor})
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, page...)
		if cursor = next; next == "" {
			break
		}
	}
	if len(all) != 4 || all[0].Status != cti.StatusAvailable || !all[0].StartedAt.Equal(t0.Add(10*time.Second)) ||
		!all[0].EndedAt.Equal(t0.Add(20*time.Second)) || all[1].Status != cti.StatusAway || !all[1].EndedAt.IsZero() {
		t.Fatalf("history = %+v", all)
	}
	_, _, err = s.StatusHistory(ctx, "a", cti.StatusQuery{}, cti.Page{Cursor: "x"})
	wantKind(t, err, cti.KindInvalid)
}

// Queues, forwarding rules and recordings are found only in their tenant.
func testQueuesForwardingRecordings(t *testing.T, db NewDB) {
	s := db(t)(t)
	ctx := t.Context()
	Seed(t, s)
	q := &cti.QueueConfig{ID: "q1", TenantID: "a", Name: "sales", Members: []string{"1001"}, CreatedAt: t0, UpdatedAt: t0}
	if err := s.CreateQueue(ctx, q); err != nil {
		t.Fatal(err)
	}
	wantKind(t, s.CreateQueue(ctx, &cti.QueueConfig{ID: "q2", TenantID: "a", Name: "sales"}), cti.KindConflict)
	if err := s.CreateQueue(ctx, &cti.QueueConfig{ID: "q3", TenantID: "b", Name: "sales"}); err != nil {
		t.Fatalf("same name in another tenant: %v", err)
	}
	q.Members = []string{"1001", "1002"}
	if err := s.UpdateQueue(ctx, q); err != nil {
		t.Fatal(err)
	}
	if got, err := s.QueueByName(ctx, "a", "sales"); err != nil || len(got.Members) != 2 {
		t.Fatalf("QueueByName = %+v, %v", got, err)
	}
	_, err := s.GetQueue(ctx, "b", "q1")
	wantKind(t, err, cti.KindNotFound)
	if list, err := s.ListQueues(ctx, "a"); err != nil || len(list) != 1 {
		t.Fatalf("ListQueues = %+v, %v", list, err)
	}
	wantKind(t, s.DeleteQueue(ctx, "b", "q1"), cti.KindNotFound)

	f := &cti.Forwarding{Extension: "1001", NoAnswerSeconds: 15}
	if err := s.SetForwarding(ctx, "a", f); err != nil {
		t.Fatal(err)
	}
	f.NoAnswerSeconds = 25
	if err := s.SetForwarding(ctx, "a", f); err != nil {
		t.Fatal(err)
	}
	if got, err := s.GetForwarding(ctx, "a", "1001"); err != nil || got.NoAnswerSeconds != 25 {
		t.Fatalf("GetForwarding = %+v, %v", got, err)
	}
	_, err = s.GetForwarding(ctx, "b", "1001")
	wantKind(t, err, cti.KindNotFound)
	if err := s.DeleteForwarding(ctx, "a", "1001"); err != nil {
		t.Fatal(err)
	}
	if list, err := s.ListForwarding(ctx, "a"); err != nil || len(list) != 0 {
		t.Fatalf("ListForwarding after delete = %+v, %v", list, err)
	}

	r := &cti.RecordingMeta{ID: "rec1", TenantID: "a", CallID: "call1", Path: "/data/rec1.wav",
		DurationSeconds: 12.5, SizeBytes: 400000, CreatedAt: t0}
	if err := s.SaveRecording(ctx, r); err != nil {
		t.Fatal(err)
	}
	if got, err := s.GetRecording(ctx, "a", "rec1"); err != nil || got.DurationSeconds != 12.5 || got.Path != r.Path ||
		!got.CreatedAt.Equal(t0) {
		t.Fatalf("GetRecording = %+v, %v", got, err)
	}
	_, err = s.GetRecording(ctx, "b", "rec1")
	wantKind(t, err, cti.KindNotFound)
	wantKind(t, s.SaveRecording(ctx, &cti.RecordingMeta{ID: "rec2", TenantID: "nope", Path: "/x"}), cti.KindNotFound)
}

// A refresh token presented by several requests at once (two nodes, or
// two tabs) is honoured once: the others are replays. Two stores on one
// database stand for two nodes; a read-then-write without a row lock lets
// two of them through.
func testConcurrentRefreshConsume(t *testing.T, db NewDB) {
	open := db(t)
	nodes := []*sqlstore.Store{open(t), open(t)}
	ctx := t.Context()
	a, _ := Seed(t, nodes[0])
	for round := range 5 {
		hash := "c" + strconv.Itoa(round)
		if err := nodes[0].CreateRefreshToken(ctx, &cti.RefreshToken{TenantID: "a", UserID: a.ID, Hash: hash,
			ExpiresAt: time.Now().Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		const n = 8
		var wg sync.WaitGroup
		var ok, reused atomic.Int32
		start := make(chan struct{})
		for i := range n {
			wg.Go(func() {
				<-start
				_, err := nodes[i%2].ConsumeRefreshToken(ctx, "a", hash)
				switch {
				case err == nil:
					ok.Add(1)
				case errors.Is(err, cti.ErrRefreshTokenReused), cti.ErrorKind(err) == cti.KindNotFound:
					reused.Add(1)
				default:
					t.Errorf("consume: %v", err)
				}
			})
		}
		close(start)
		wg.Wait()
		if ok.Load() != 1 || reused.Load() != n-1 {
			t.Fatalf("round %d: %d consumed, %d refused; want exactly one consumed", round, ok.Load(), reused.Load())
		}
	}
}

// Nodes sharing a database each recover only what they left: a live call,
// an agent's status and a heartbeat written by one node are not another's.
// An agent who moves to another node becomes that node's.
func testNodesKeepTheirOwnState(t *testing.T, db NewDB) {
	open := db(t)
	na, nb := open(t), open(t)
	na.SetNode("a")
	nb.SetNode("b")
	ctx := t.Context()
	rec := cti.CallRecord{ID: "callA", TenantID: "a", Direction: cti.DirectionInbound, StartedAt: t0}
	if err := na.ApplyEventState(ctx, &cti.EventState{LiveCall: &cti.LiveCall{Record: rec, SeenAt: t0}}); err != nil {
		t.Fatal(err)
	}
	for _, st := range []*cti.EventState{presence("1001", cti.StatusAvailable, "", t0), presence("1002", cti.StatusAvailable, "", t0)} {
		if err := na.ApplyEventState(ctx, st); err != nil {
			t.Fatal(err)
		}
	}
	if err := na.TouchLiveCalls(ctx, []string{"callA"}, t0.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	// Agent 1002 signs in again on node b.
	if err := nb.ApplyEventState(ctx, presence("1002", cti.StatusAway, "break", t0.Add(2*time.Second))); err != nil {
		t.Fatal(err)
	}
	if live, err := nb.LiveCalls(ctx); err != nil || len(live) != 0 {
		t.Fatalf("node b sees live calls %+v, %v", live, err)
	}
	if hb, err := nb.Heartbeat(ctx); err != nil || !hb.IsZero() {
		t.Fatalf("node b heartbeat %v, %v", hb, err)
	}
	if live, err := na.LiveCalls(ctx); err != nil || len(live) != 1 {
		t.Fatalf("node a live calls %+v, %v", live, err)
	}
	if hb, err := na.Heartbeat(ctx); err != nil || !hb.Equal(t0.Add(time.Second)) {
		t.Fatalf("node a heartbeat %v, %v", hb, err)
	}
	pa, err := na.Presence(ctx)
	if err != nil || len(pa) != 1 || pa[0].Extension != "1001" {
		t.Fatalf("node a presence %+v, %v", pa, err)
	}
	pb, err := nb.Presence(ctx)
	if err != nil || len(pb) != 1 || pb[0].Extension != "1002" || pb[0].Status != cti.StatusAway {
		t.Fatalf("node b presence %+v, %v", pb, err)
	}
}
