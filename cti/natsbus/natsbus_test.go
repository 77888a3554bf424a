//go:build cluster

package natsbus

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/ringbridge/ringbridge/cti"
	"github.com/ringbridge/ringbridge/cti/natsbus/natstest"
)

var server *natstest.Server

func TestMain(m *testing.M) {
	s, err := natstest.Start(context.Background())
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	server = s
	code := m.Run()
	s.Stop()
	os.Exit(code)
}

// A node's changes reach the other nodes, in order, and not itself.
func TestChangesCrossNodes(t *testing.T) {
	nodes := make([]*Bus, 3)
	got := make([]chan cti.NodeChange, 3)
	for i := range nodes {
		b, err := Connect(server.URL(), fmt.Sprint("n", i), nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = b.Close() })
		nodes[i], got[i] = b, make(chan cti.NodeChange, 100)
		stop, err := b.Subscribe(func(c cti.NodeChange) { got[i] <- c })
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(stop)
	}
	for n := range 20 {
		if err := nodes[0].Publish(cti.NodeChange{Node: "n0", Tenant: "demo",
			Agent: &cti.AgentPresence{Extension: fmt.Sprint(1000 + n), Status: cti.StatusAway}}); err != nil {
			t.Fatal(err)
		}
	}
	for i := 1; i < 3; i++ {
		for n := range 20 {
			select {
			case c := <-got[i]:
				if c.Agent == nil || c.Agent.Extension != fmt.Sprint(1000+n) || c.Node != "n0" {
					t.Fatalf("node %d got %+v as change %d", i, c, n)
				}
			case <-time.After(5 * time.Second):
				t.Fatalf("node %d: change %d never came", i, n)
			}
		}
	}
	select {
	case c := <-got[0]:
		t.Fatalf("a node got its own change back: %+v", c)
	case <-time.After(200 * time.Millisecond): // the others had theirs by now
	}
}
