//go:build cluster

package natsbus

import (
	"context"
	"testing"
	"time"

	"github.com/ringbridge/ringbridge/cti"
)

// The session directory on a real nats-server: an entry written by one
// node is read by another, a sign-in elsewhere survives the first node's
// late delete, and an entry nobody refreshes expires.
func TestDirectoryAcrossNodes(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	open := func(node string) *Directory {
		b, err := Connect(server.URL(), node, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = b.Close() })
		d, err := b.Directory(ctx, 2*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	a, b := open("a"), open("b")
	onA := cti.SessionLocation{Tenant: "tnt_1", Extension: "1001", Node: "a", SIP: "127.0.0.1:5061", Session: "s1"}
	if err := a.Put(ctx, onA); err != nil {
		t.Fatal(err)
	}
	if got, ok, err := b.Get(ctx, "tnt_1", "1001"); err != nil || !ok || got != onA {
		t.Fatalf("node b reads %+v %v %v", got, ok, err)
	}
	if _, ok, err := b.Get(ctx, "tnt_2", "1001"); err != nil || ok {
		t.Fatalf("another tenant's 1001: %v %v", ok, err)
	}
	// The agent signs in on b; a's session ends afterwards.
	onB := cti.SessionLocation{Tenant: "tnt_1", Extension: "1001", Node: "b", SIP: "127.0.0.1:5062", Session: "s2"}
	if err := b.Put(ctx, onB); err != nil {
		t.Fatal(err)
	}
	if err := a.Delete(ctx, onA); err != nil {
		t.Fatal(err)
	}
	if got, ok, err := a.Get(ctx, "tnt_1", "1001"); err != nil || !ok || got != onB {
		t.Fatalf("after a's stale delete: %+v %v %v", got, ok, err)
	}
	if err := b.Delete(ctx, onB); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := a.Get(ctx, "tnt_1", "1001"); err != nil || ok {
		t.Fatalf("after sign-out: %v %v", ok, err)
	}
	// Nobody refreshes 1002: it expires (bucket TTL 2 s).
	if err := a.Put(ctx, cti.SessionLocation{Tenant: "tnt_1", Extension: "1002", Node: "a", SIP: "x:1", Session: "s3"}); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		_, ok, err := b.Get(ctx, "tnt_1", "1002")
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("an entry nobody refreshes did not expire")
		}
	}
}
