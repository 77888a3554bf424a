package cti_test

import (
	"testing"
	"time"

	"github.com/ringbridge/ringbridge/cti"
)

// A tenant's supervisor never sees another tenant's agents: not in the
// snapshot, not in the deltas.
func TestWatchIsTenantScoped(t *testing.T) {
	svc, _ := newService(t, cti.Config{})
	other := cti.Principal{TenantID: "other", UserID: "u-other", Username: "o", Extension: "1001", Role: cti.RoleAgent}
	w, snap, err := svc.Watch(t.Context(), cti.Principal{TenantID: "demo", Role: cti.RoleAdmin, UserID: "admin"})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if len(snap.Agents) != 2 {
		t.Fatalf("snapshot agents %+v", snap.Agents)
	}
	if _, err := svc.Connect(t.Context(), other, false); err != nil { // the other tenant's 1001 signs in
		t.Fatal(err)
	}
	if _, err := svc.Connect(t.Context(), principal("1002"), false); err != nil { // ours
		t.Fatal(err)
	}
	deadline := time.After(5 * time.Second)
	for {
		select {
		case d := <-w.Deltas():
			if d.Agent != nil && d.Agent.UserID == "u-other" {
				t.Fatalf("another tenant's agent in the feed: %+v", d.Agent)
			}
			if d.Agent != nil && d.Agent.Extension == "1002" && d.Agent.Status == cti.StatusAvailable {
				return // ours arrived, theirs did not come before it
			}
		case <-deadline:
			t.Fatal("our agent's delta never came")
		}
	}
}
