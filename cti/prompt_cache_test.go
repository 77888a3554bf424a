package cti

import (
	"bytes"
	"testing"
)

// The cache returns what was put, keeps tenants apart, forgets on
// request, and evicts the least recently used once over its budget.
func TestPromptCache(t *testing.T) {
	var c promptCache
	if c.get("a", "p1") != nil {
		t.Fatal("an empty cache returned audio")
	}
	quarter := promptCacheBytes / 4
	c.put("a", "p1", bytes.Repeat([]byte{1}, quarter))
	c.put("a", "p2", bytes.Repeat([]byte{2}, quarter))
	c.put("b", "p1", bytes.Repeat([]byte{3}, quarter))
	if b := c.get("b", "p1"); len(b) != quarter || b[0] != 3 {
		t.Fatal("tenant b's p1 is not its own")
	}
	if b := c.get("a", "p1"); b == nil || b[0] != 1 { // now the most recent
		t.Fatal("a/p1 missing")
	}
	c.put("a", "p3", bytes.Repeat([]byte{4}, quarter))
	c.put("a", "p4", bytes.Repeat([]byte{5}, quarter)) // over budget: a/p2 goes
	if c.get("a", "p2") != nil {
		t.Error("the least recently used entry was kept")
	}
	if c.get("a", "p1") == nil || c.get("a", "p4") == nil {
		t.Error("a recent entry was evicted")
	}
	if c.bytes > promptCacheBytes {
		t.Errorf("%d bytes cached, budget %d", c.bytes, promptCacheBytes)
	}
	c.forget("a", "p1")
	if c.get("a", "p1") != nil {
		t.Error("a forgotten entry is still there")
	}
	c.put("a", "huge", make([]byte, promptCacheBytes/4+1))
	if c.get("a", "huge") != nil {
		t.Error("an entry over a quarter of the budget was cached")
	}
}
