package cti_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/ringbridge/ringbridge/cti"
	"github.com/ringbridge/ringbridge/cti/ctitest"
	"github.com/ringbridge/ringbridge/cti/webhook"
)

// TestConcurrentSetupsShareCommits places 20 outbound calls at once,
// with the real SQLite store (synchronous=FULL) and the webhook outbox as
// the event sink, and counts the store's commits from the dials to every
// call being active with its call.ringing, call.answered and the agents'
// on-call status stored. The database's writer is held busy while the
// calls pile up at each of the two steps that need the disk, so the test
// does not depend on timing: every durable write a setup waits for must
// reach the outbox's group commit (an agent's status written on its own
// would stall its dial instead, and the calls would never pile up), and
// the 20 setups then share two commits per step at most: the one that
// took the first arrivals and the one that takes the rest.
func TestConcurrentSetupsShareCommits(t *testing.T) {
	const calls = 20
	ctx := t.Context()
	st := tenantStore(t)
	outbox, err := webhook.Open(ctx, st.Webhooks(), webhook.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer outbox.Close()

	var lmu sync.Mutex
	legs := map[string]*ctitest.OutboundLeg{}
	m := &ctitest.Media{DialFunc: func(_ context.Context, req cti.DialRequest) (cti.OutboundLeg, error) {
		leg := ctitest.NewOutboundLeg("sip-"+req.CallID, req.To)
		lmu.Lock()
		legs[req.CallID] = leg
		lmu.Unlock()
		return leg, nil
	}}
	svc := cti.New(cti.Config{RingTimeout: time.Minute}, st, m, nil)
	defer svc.Close()
	svc.SetEventSink(outbox)

	sessions := make([]*cti.AgentSession, calls)
	for i := range sessions {
		ext := fmt.Sprint(2000 + i)
		u := &cti.User{TenantID: "demo", Username: "u" + ext, Extension: ext, Role: cti.RoleAgent, PasswordHash: "x"}
		if err := st.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
		ss, err := svc.Connect(ctx, cti.Principal{TenantID: "demo", UserID: u.ID, Username: u.Username, Extension: ext, Role: cti.RoleAgent}, false)
		if err != nil {
			t.Fatal(err)
		}
		sessions[i] = ss
	}

	// hold takes the database's only writer connection until released;
	// a failing test releases it before the service is closed.
	var held []func()
	defer func() {
		for _, release := range held {
			release()
		}
	}()
	hold := func() func() {
		tx, err := st.Writer().BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		release := sync.OnceFunc(func() { _ = tx.Rollback() })
		held = append(held, release)
		return release
	}
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		deadline := time.Now().Add(8 * time.Second) // within the publications' own timeout
		for !ok() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s (%d waiting in the outbox)", what, outbox.Waiting())
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	liveCalls := func(answered bool) int {
		live, err := st.LiveCalls(ctx)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, lc := range live {
			if !answered || !lc.Record.AnsweredAt.IsZero() {
				n++
			}
		}
		return n
	}

	// Step 1: the dials. Each is acknowledged at once; call.ringing (with
	// the agent's status) is what the call then waits for.
	release := hold()
	c0 := st.Commits()
	ids := make([]string, calls)
	var wg sync.WaitGroup
	errs := make(chan error, calls)
	for i, ss := range sessions {
		wg.Go(func() {
			info, err := ss.Dial(ctx, "15557654321")
			if err != nil {
				errs <- err
				return
			}
			ids[i] = info.ID
		})
	}
	waitFor("20 setups waiting for the disk", func() bool { return outbox.Waiting() == calls })
	release()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("dial: %v", err)
	}
	waitFor("20 calls stored", func() bool { return liveCalls(false) == calls })
	c1 := st.Commits()

	// Step 2: the far ends answer. Each agent sees the call active, and
	// call.answered is stored before the call goes on.
	release = hold()
	lmu.Lock()
	for _, leg := range legs {
		leg.Answer()
	}
	lmu.Unlock()
	waitFor("20 answers waiting for the disk", func() bool { return outbox.Waiting() == calls })
	release()
	waitFor("20 answered calls stored", func() bool { return liveCalls(true) == calls })
	c2 := st.Commits()

	for i, ss := range sessions {
		waitActive(t, ss, ids[i])
	}
	presence, err := st.Presence(ctx)
	if err != nil {
		t.Fatal(err)
	}
	onCall := 0
	for _, p := range presence {
		if p.Status == cti.StatusOnCall {
			onCall++
		}
	}
	if onCall != calls {
		t.Errorf("%d agents stored on a call, want %d", onCall, calls)
	}
	t.Logf("%d setups: %d commits for the dials, %d for the answers (%.2f per setup)",
		calls, c1-c0, c2-c1, float64(c2-c0)/calls)
	if c1-c0 > 2 || c2-c1 > 2 {
		t.Errorf("20 concurrent setups took %d commits to dial and %d to answer, want at most 2 each: they do not share commits",
			c1-c0, c2-c1)
	}
	for i, ss := range sessions {
		if err := ss.Hangup(ids[i]); err != nil {
			t.Errorf("hang up: %v", err)
		}
	}
}

// waitActive waits until the agent's session reports the call active.
func waitActive(t *testing.T, ss *cti.AgentSession, id string) {
	t.Helper()
	timeout := time.After(8 * time.Second)
	for {
		select {
		case ev := <-ss.Events():
			if ev.Kind == cti.EventCall && ev.Call.ID == id && ev.Call.State == cti.CallActive {
				return
			}
		case <-timeout:
			t.Fatalf("call %s never became active", id)
		}
	}
}
