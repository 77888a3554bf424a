package cti_test

import (
	"context"
	"testing"
	"time"

	"github.com/ringbridge/ringbridge/cti"
	"github.com/ringbridge/ringbridge/cti/ctitest"
)

// Two nodes on one store and one bus: a supervisor watching node B sees
// an agent signed in on node A change status, as a delta and in a later
// snapshot; a supervisor of another team does not.
func TestSupervisorOnOneNodeSeesAgentsOfAnother(t *testing.T) {
	ctx := context.Background()
	st := demoStore(t, "sales")
	bus := cti.NewLocalBus()
	node := func(name string) *cti.Service {
		svc := cti.New(cti.Config{NodeTimeout: 300 * time.Millisecond}, st, &ctitest.Media{}, nil)
		t.Cleanup(svc.Close)
		if err := svc.SetBus(name, bus); err != nil {
			t.Fatal(err)
		}
		return svc
	}
	a, b := node("a"), node("b")

	admin := cti.Principal{TenantID: "demo", Role: cti.RoleAdmin, UserID: "admin"}
	w, _, err := b.Watch(ctx, admin)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	other, _, err := b.Watch(ctx, cti.Principal{TenantID: "demo", Role: cti.RoleSupervisor, UserID: "sup", Teams: []string{"support"}})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()

	p := cti.Principal{TenantID: "demo", UserID: "u1001", Username: "a1001", Extension: "1001", Role: cti.RoleAgent, Teams: []string{"sales"}}
	ss, err := a.Connect(ctx, p, false)
	if err != nil {
		t.Fatal(err)
	}
	if err := ss.SetStatus(cti.StatusAway, "lunch"); err != nil {
		t.Fatal(err)
	}
	deadline := time.After(5 * time.Second)
	for seen := false; !seen; {
		select {
		case d := <-w.Deltas():
			seen = d.Agent != nil && d.Agent.Extension == "1001" && d.Agent.Status == cti.StatusAway && d.Agent.Reason == "lunch"
		case <-deadline:
			t.Fatal("node B's supervisor never saw 1001 go away on node A")
		}
	}
	select {
	case d := <-other.Deltas():
		if d.Agent != nil && d.Agent.Extension == "1001" {
			t.Fatalf("a supervisor of another team saw %+v", d.Agent)
		}
	default:
	}
	// A supervisor connecting to node B now finds it in the snapshot.
	w2, snap, err := b.Watch(ctx, admin)
	if err != nil {
		t.Fatal(err)
	}
	defer w2.Close()
	found := false
	for _, ag := range snap.Agents {
		if ag.Extension == "1001" {
			found = ag.Status == cti.StatusAway
		}
	}
	if !found {
		t.Fatalf("node B's snapshot: %+v", snap.Agents)
	}
	// So does node B's REST view.
	if ag, err := b.AgentStatusOf(ctx, admin, "1001"); err != nil || ag.Status != cti.StatusAway {
		t.Fatalf("node B's AgentStatusOf(1001) = %+v, %v", ag, err)
	}
	if list, err := b.AgentStatuses(ctx, admin); err != nil || len(list) != 2 || list[0].Status != cti.StatusAway {
		t.Fatalf("node B's AgentStatuses = %+v, %v", list, err)
	}

	// Idle, node A keeps saying it is alive: three timeouts later its
	// agent is still shown away.
	time.Sleep(900 * time.Millisecond)
	if ag := agentIn(t, b, admin, "1001"); ag.Status != cti.StatusAway {
		t.Fatalf("1001 on a live, idle node A: %+v", ag)
	}
	// Node A dies without a word (its bus stops before its sessions end):
	// node B's supervisors see its agent go offline.
	a.Close()
	deadline = time.After(5 * time.Second)
	for gone := false; !gone; {
		select {
		case d := <-w2.Deltas():
			gone = d.Agent != nil && d.Agent.Extension == "1001" && d.Agent.Status == cti.StatusOffline
		case <-deadline:
			t.Fatal("node A's agent still shown after node A went silent")
		}
	}
	if ag := agentIn(t, b, admin, "1001"); ag.Status != cti.StatusOffline {
		t.Fatalf("1001 after node A died: %+v", ag)
	}
}

// agentIn is an agent as a new supervisor of svc sees it.
func agentIn(t *testing.T, svc *cti.Service, p cti.Principal, ext string) cti.AgentPresence {
	t.Helper()
	w, snap, err := svc.Watch(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	w.Close()
	for _, ag := range snap.Agents {
		if ag.Extension == ext {
			return ag
		}
	}
	t.Fatalf("%s not in the snapshot", ext)
	return cti.AgentPresence{}
}
