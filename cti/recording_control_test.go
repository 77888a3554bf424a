package cti_test

import (
	"context"
	"testing"

	"github.com/ringbridge/ringbridge/cti"
)

// The most specific rule wins: agent over queue over number over the
// tenant's default; deleting a rule falls back to the next; rules for
// things the tenant does not have are refused, and only admins set them.
func TestRecordingPolicyMostSpecificWins(t *testing.T) {
	svc, _ := newService(t, cti.Config{})
	ctx := context.Background()
	admin := adminOf(t, svc)
	if _, err := svc.CreateNumber(ctx, admin, cti.NumberInput{Number: "+3612345678", Route: cti.RouteExtension, Extension: "1001"}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.CreateQueue(ctx, admin, cti.QueueConfig{Name: "sales", Members: []string{"1001", "1002"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.UpdateSettings(ctx, admin, func(s *cti.TenantSettings) { s.RecordingPolicy = cti.RecordNever }); err != nil {
		t.Fatal(err)
	}
	put := func(scope cti.RecordingScope, target string, pol cti.RecordingPolicy) {
		t.Helper()
		if _, err := svc.PutRecordingPolicy(ctx, admin, cti.RecordingPolicyRule{Scope: scope, Target: target, Policy: pol}); err != nil {
			t.Fatal(err)
		}
	}
	check := func(ext, queue, number string, want cti.RecordingPolicy, wantBy string) {
		t.Helper()
		if got, by := svc.RecordingPolicyFor(ctx, "demo", ext, queue, number); got != want || by != wantBy {
			t.Fatalf("policy for %s/%s/%s: %s by %s, want %s by %s", ext, queue, number, got, by, want, wantBy)
		}
	}
	check("1001", "sales", "+3612345678", cti.RecordNever, "tenant")
	put(cti.ScopeNumber, "3612345678", cti.RecordAlways) // without the +: the same number
	check("1001", "sales", "+3612345678", cti.RecordAlways, "number:3612345678")
	put(cti.ScopeQueue, "sales", cti.RecordOnDemand)
	check("1001", "sales", "+3612345678", cti.RecordOnDemand, "queue:sales")
	check("1001", "", "+3612345678", cti.RecordAlways, "number:3612345678")
	put(cti.ScopeAgent, "1002", cti.RecordNever)
	check("1002", "sales", "+3612345678", cti.RecordNever, "agent:1002")
	check("1001", "sales", "+3612345678", cti.RecordOnDemand, "queue:sales")
	if err := svc.DeleteRecordingPolicy(ctx, admin, cti.ScopeQueue, "sales"); err != nil {
		t.Fatal(err)
	}
	check("1001", "sales", "+3612345678", cti.RecordAlways, "number:3612345678")
	if err := svc.DeleteRecordingPolicy(ctx, admin, cti.ScopeQueue, "sales"); cti.ErrorKind(err) != cti.KindNotFound {
		t.Fatalf("deleting a missing rule: %v", err)
	}

	for _, bad := range []cti.RecordingPolicyRule{
		{Scope: cti.ScopeQueue, Target: "support", Policy: cti.RecordAlways},
		{Scope: cti.ScopeNumber, Target: "+15550000000", Policy: cti.RecordAlways},
		{Scope: cti.ScopeAgent, Target: "1999", Policy: cti.RecordAlways},
		{Scope: "team", Target: "a", Policy: cti.RecordAlways},
		{Scope: cti.ScopeAgent, Target: "1001", Policy: "sometimes"},
	} {
		if _, err := svc.PutRecordingPolicy(ctx, admin, bad); cti.ErrorKind(err) != cti.KindInvalid {
			t.Fatalf("rule %+v: %v, want invalid", bad, err)
		}
	}
	agent := cti.Principal{TenantID: "demo", UserID: "u", Username: "a1001", Extension: "1001", Role: cti.RoleAgent}
	if _, err := svc.PutRecordingPolicy(ctx, agent, cti.RecordingPolicyRule{Scope: cti.ScopeAgent, Target: "1001", Policy: cti.RecordNever}); cti.ErrorKind(err) != cti.KindForbidden {
		t.Fatalf("an agent sets a rule: %v", err)
	}
	other := cti.Principal{TenantID: "other", UserID: "x", Username: "x", Role: cti.RoleAdmin}
	if got, _ := svc.ListRecordingPolicies(ctx, other); len(got.Rules) != 0 {
		t.Fatalf("another tenant sees rules: %+v", got.Rules)
	}
}
