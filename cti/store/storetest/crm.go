package storetest

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/ringbridge/ringbridge/cti"
)

func testPhonebook(t *testing.T, db NewDB) {
	s := db(t)(t)
	Seed(t, s)
	ctx := t.Context()

	ada := &cti.Contact{TenantID: "a", Name: "Ada", Company: "Analytical", Numbers: []string{"+15557654321", "+15550000001"},
		Fields: map[string]string{"ltv": "1200"}}
	if err := s.CreateContact(ctx, ada); err != nil {
		t.Fatal(err)
	}
	twin := &cti.Contact{TenantID: "b", Name: "Ada in B", Numbers: []string{"+15557654321"}}
	if err := s.CreateContact(ctx, twin); err != nil {
		t.Fatal(err)
	}
	got, err := s.FindContactByNumber(ctx, "a", "+15557654321")
	if err != nil || got.ID != ada.ID || got.Fields["ltv"] != "1200" || len(got.Numbers) != 2 {
		t.Fatalf("lookup in a: %+v, %v", got, err)
	}
	if got, err := s.FindContactByNumber(ctx, "b", "+15557654321"); err != nil || got.ID != twin.ID {
		t.Fatalf("lookup in b: %+v, %v", got, err)
	}
	_, err = s.FindContactByNumber(ctx, "a", "+15559999999")
	wantKind(t, err, cti.KindNotFound)
	// Another tenant's contact is invisible everywhere.
	_, err = s.GetContact(ctx, "b", ada.ID)
	wantKind(t, err, cti.KindNotFound)
	wantKind(t, s.DeleteContact(ctx, "b", ada.ID), cti.KindNotFound)
	wantKind(t, s.UpdateContact(ctx, &cti.Contact{ID: ada.ID, TenantID: "b", Name: "x"}), cti.KindNotFound)

	// Update replaces the numbers: the old one no longer finds Ada.
	ada.Numbers = []string{"+15550000002"}
	ada.Name = "Ada L."
	if err := s.UpdateContact(ctx, ada); err != nil {
		t.Fatal(err)
	}
	_, err = s.FindContactByNumber(ctx, "a", "+15557654321")
	wantKind(t, err, cti.KindNotFound)
	if got, err := s.GetContact(ctx, "a", ada.ID); err != nil || got.Name != "Ada L." || !slices.Equal(got.Numbers, []string{"+15550000002"}) {
		t.Fatalf("after update: %+v, %v", got, err)
	}

	// Pagination by name, case-insensitively, across pages.
	for i := range 7 {
		name := fmt.Sprintf("contact %02d", i)
		if i%2 == 1 {
			name = fmt.Sprintf("Contact %02d", i)
		}
		if err := s.CreateContact(ctx, &cti.Contact{TenantID: "a", Name: name, Numbers: []string{fmt.Sprintf("+1555100%04d", i)}}); err != nil {
			t.Fatal(err)
		}
	}
	var names []string
	cursor := ""
	for pages := 0; ; pages++ {
		list, next, err := s.ListContacts(ctx, "a", cti.Page{Limit: 3, Cursor: cursor})
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range list {
			names = append(names, c.Name)
			if len(c.Numbers) != 1 {
				t.Fatalf("%s has numbers %v", c.Name, c.Numbers)
			}
		}
		if next == "" {
			break
		}
		if pages > 5 {
			t.Fatal("pagination does not end")
		}
		cursor = next
	}
	want := []string{"Ada L.", "contact 00", "Contact 01", "contact 02", "Contact 03", "contact 04", "Contact 05", "contact 06"}
	if !slices.Equal(names, want) {
		t.Fatalf("pages gave %q, want %q", names, want)
	}
	_, _, err = s.ListContacts(ctx, "a", cti.Page{Cursor: "!!"})
	wantKind(t, err, cti.KindInvalid)

	// Deleting removes the numbers too.
	if err := s.DeleteContact(ctx, "a", ada.ID); err != nil {
		t.Fatal(err)
	}
	_, err = s.FindContactByNumber(ctx, "a", "+15550000002")
	wantKind(t, err, cti.KindNotFound)
}

func testAPIKeys(t *testing.T, db NewDB) {
	s := db(t)(t)
	a, b := Seed(t, s)
	ctx := t.Context()
	k := &cti.APIKey{ID: "kabc", TenantID: "a", UserID: a.ID, Name: "crm", Hash: "h1"}
	if err := s.CreateAPIKey(ctx, k); err != nil {
		t.Fatal(err)
	}
	// A key cannot point at another tenant's user.
	wantKind(t, s.CreateAPIKey(ctx, &cti.APIKey{ID: "kx", TenantID: "a", UserID: b.ID, Name: "x", Hash: "h"}), cti.KindNotFound)
	got, err := s.GetAPIKey(ctx, "kabc")
	if err != nil || got.TenantID != "a" || got.Hash != "h1" || !got.LastUsedAt.IsZero() {
		t.Fatalf("get: %+v, %v", got, err)
	}
	at := time.Now().UTC().Truncate(time.Millisecond)
	if err := s.TouchAPIKey(ctx, "kabc", at); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.GetAPIKey(ctx, "kabc"); !got.LastUsedAt.Equal(at) {
		t.Fatalf("last used %v, want %v", got.LastUsedAt, at)
	}
	if list, _ := s.ListAPIKeys(ctx, "b"); len(list) != 0 {
		t.Fatalf("tenant b sees %+v", list)
	}
	wantKind(t, s.DeleteAPIKey(ctx, "b", "kabc"), cti.KindNotFound)
	if err := s.DeleteAPIKey(ctx, "a", "kabc"); err != nil {
		t.Fatal(err)
	}
	_, err = s.GetAPIKey(ctx, "kabc")
	wantKind(t, err, cti.KindNotFound)
}

func testCallRecords(t *testing.T, db NewDB) {
	s := db(t)(t)
	Seed(t, s)
	ctx := t.Context()
	base := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	for i := range 5 {
		r := &cti.CallRecord{ID: fmt.Sprintf("call_%d", i), TenantID: "a", Direction: cti.DirectionInbound,
			From: "+15557654321", To: "+15550001001", Route: "static:1001",
			StartedAt: base.Add(time.Duration(i) * time.Minute), EndedAt: base.Add(time.Duration(i)*time.Minute + 30*time.Second),
			EndReason: cti.EndRemoteHangup, Tags: []string{},
			Legs:   []cti.LegRecord{{SIPCallID: fmt.Sprintf("sip-%d", i), Direction: cti.DirectionInbound, Number: "+15557654321"}},
			Agents: []cti.AgentSegment{{Extension: "1001"}}}
		if err := s.SaveCallRecord(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.SaveCallRecord(ctx, &cti.CallRecord{ID: "call_b", TenantID: "b", StartedAt: base}); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetCallRecord(ctx, "a", "call_3")
	if err != nil || got.Legs[0].SIPCallID != "sip-3" || got.Route != "static:1001" {
		t.Fatalf("get: %+v, %v", got, err)
	}
	_, err = s.GetCallRecord(ctx, "b", "call_3")
	wantKind(t, err, cti.KindNotFound)
	// A record id cannot be taken over by another tenant.
	if err := s.SaveCallRecord(ctx, &cti.CallRecord{ID: "call_3", TenantID: "b", StartedAt: base}); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.GetCallRecord(ctx, "a", "call_3"); got == nil || got.TenantID != "a" {
		t.Fatalf("tenant b overwrote tenant a's record: %+v", got)
	}

	var ids []string
	cursor := ""
	for {
		list, next, err := s.ListCallRecords(ctx, "a", cti.CallFilter{From: base.Add(time.Minute), To: base.Add(5 * time.Minute)}, cti.Page{Limit: 2, Cursor: cursor})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range list {
			ids = append(ids, r.ID)
		}
		if next == "" {
			break
		}
		cursor = next
	}
	if !slices.Equal(ids, []string{"call_4", "call_3", "call_2", "call_1"}) {
		t.Fatalf("listed %v", ids)
	}

	d, notes, tags := "sale", "upgraded", []string{"vip"}
	r, err := s.UpdateCallRecord(ctx, "a", "call_2", cti.CallUpdate{Disposition: &d, Notes: &notes, Tags: &tags})
	if err != nil || r.Disposition != "sale" || r.Notes != "upgraded" || !slices.Equal(r.Tags, tags) || len(r.Legs) != 1 {
		t.Fatalf("update: %+v, %v", r, err)
	}
	if got, _ := s.GetCallRecord(ctx, "a", "call_2"); got.Disposition != "sale" {
		t.Fatalf("update not stored: %+v", got)
	}
	_, err = s.UpdateCallRecord(ctx, "b", "call_2", cti.CallUpdate{Disposition: &d})
	wantKind(t, err, cti.KindNotFound)
}
