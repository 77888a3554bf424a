package storetest

import (
	"testing"

	"github.com/ringbridge/ringbridge/cti"
	"github.com/ringbridge/ringbridge/cti/ivr"
)

// IVR flows: each save is the next version and current; a rollback makes
// an earlier one current; flows are tenant-scoped; deleting removes every
// version.
func testIVRFlows(t *testing.T, db NewDB) {
	s := db(t)(t)
	ctx := t.Context()
	Seed(t, s)
	flow := func(name string) *ivr.Flow {
		return &ivr.Flow{ID: "main", Name: name, Start: "bye", Nodes: []ivr.Node{{ID: "bye", Kind: ivr.Hangup}}}
	}
	for i, name := range []string{"first", "second", "third"} {
		v, err := s.SaveIVRFlow(ctx, "a", flow(name), "admin", t0)
		if err != nil || v != i+1 {
			t.Fatalf("save %s = %d, %v; want version %d", name, v, err, i+1)
		}
	}
	cur, err := s.GetIVRFlow(ctx, "a", "main", 0)
	if err != nil || cur.Version != 3 || !cur.Current || cur.Flow.Name != "third" || cur.CreatedBy != "admin" || !cur.CreatedAt.Equal(t0) {
		t.Fatalf("current = %+v, %v", cur, err)
	}
	if err := s.SetIVRFlowCurrent(ctx, "a", "main", 1); err != nil {
		t.Fatal(err)
	}
	if cur, _ := s.GetIVRFlow(ctx, "a", "main", 0); cur.Version != 1 || cur.Flow.Name != "first" {
		t.Fatalf("after rollback current = %+v", cur)
	}
	if old, err := s.GetIVRFlow(ctx, "a", "main", 3); err != nil || old.Current || old.Flow.Name != "third" {
		t.Fatalf("version 3 = %+v, %v", old, err)
	}
	wantKind(t, s.SetIVRFlowCurrent(ctx, "a", "main", 9), cti.KindNotFound)
	if v, err := s.SaveIVRFlow(ctx, "a", flow("fourth"), "admin", t0); err != nil || v != 4 {
		t.Fatalf("a save after a rollback = %d, %v; want version 4", v, err)
	}
	versions, err := s.ListIVRFlowVersions(ctx, "a", "main")
	if err != nil || len(versions) != 4 || versions[0].Version != 4 || !versions[0].Current || versions[3].Current {
		t.Fatalf("versions = %+v, %v", versions, err)
	}
	// Tenant b sees nothing of a's flow.
	_, err = s.GetIVRFlow(ctx, "b", "main", 0)
	wantKind(t, err, cti.KindNotFound)
	if list, err := s.ListIVRFlows(ctx, "b"); err != nil || len(list) != 0 {
		t.Fatalf("tenant b lists %+v, %v", list, err)
	}
	wantKind(t, s.DeleteIVRFlow(ctx, "b", "main"), cti.KindNotFound)
	if list, err := s.ListIVRFlows(ctx, "a"); err != nil || len(list) != 1 || list[0].Version != 4 {
		t.Fatalf("tenant a lists %+v, %v", list, err)
	}
	if err := s.DeleteIVRFlow(ctx, "a", "main"); err != nil {
		t.Fatal(err)
	}
	if v, err := s.ListIVRFlowVersions(ctx, "a", "main"); err != nil || len(v) != 0 {
		t.Fatalf("versions after delete = %+v, %v", v, err)
	}
}
