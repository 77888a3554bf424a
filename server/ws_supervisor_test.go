package server

import (
	"encoding/json"
	"testing"
	"time"

	fws "github.com/fasthttp/websocket"

	"github.com/ringbridge/ringbridge/cti"
	"github.com/ringbridge/ringbridge/server/wsproto"
)

// supervisorView applies a snapshot and its deltas, as a wallboard does.
type supervisorView struct {
	seq    uint64
	agents map[string]cti.AgentPresence
	calls  map[string]cti.LiveCallView
}

func (v *supervisorView) apply(t *testing.T, m wsproto.Message) {
	t.Helper()
	switch m.Type {
	case wsproto.TypeSnapshot:
		var s cti.Snapshot
		if err := json.Unmarshal(m.Snapshot, &s); err != nil {
			t.Fatal(err)
		}
		v.seq, v.agents, v.calls = s.Seq, map[string]cti.AgentPresence{}, map[string]cti.LiveCallView{}
		for _, a := range s.Agents {
			v.agents[a.Extension] = a
		}
		for _, c := range s.Calls {
			v.calls[c.ID] = c
		}
	case wsproto.TypeDelta:
		var d cti.Delta
		if err := json.Unmarshal(m.Delta, &d); err != nil {
			t.Fatal(err)
		}
		if d.Seq != v.seq+1 {
			t.Fatalf("delta %d after %d: a gap", d.Seq, v.seq)
		}
		v.seq = d.Seq
		switch {
		case d.Agent != nil:
			v.agents[d.Agent.Extension] = *d.Agent
		case d.Call != nil && d.Call.State == "ended":
			delete(v.calls, d.Call.ID)
		case d.Call != nil:
			v.calls[d.Call.ID] = *d.Call
		}
	default:
		t.Fatalf("unexpected %+v", m)
	}
}

func (e *env) dialSupervisor(login string) *wsClient {
	e.t.Helper()
	d := fws.Dialer{HandshakeTimeout: 5 * time.Second}
	conn, _, err := d.DialContext(e.t.Context(), "ws://"+e.addr+"/ws/supervisor", map[string][]string{"Origin": {e.origin()}})
	if err != nil {
		e.t.Fatalf("dial supervisor websocket: %v", err)
	}
	e.t.Cleanup(func() { _ = conn.Close() })
	c := &wsClient{t: e.t, conn: conn}
	c.send(wsproto.Message{Type: wsproto.TypeAuth, Token: e.login(login).AccessToken})
	return c
}

// The supervisor feed matches reality after a burst of status changes:
// the snapshot plus every delta, numbered without a gap, equals what REST
// says; a reconnecting supervisor gets the same picture from a new
// snapshot; agents may not watch.
func TestSupervisorFeedMatchesREST(t *testing.T) {
	e := newEnv(t)
	e.listen()
	sup := e.dialSupervisor("admin")
	var view supervisorView
	view.apply(t, sup.read())
	if a := view.agents["1001"]; a.Status != cti.StatusOffline || len(view.agents) != 2 {
		t.Fatalf("first snapshot: %+v", view.agents)
	}
	alice, _ := e.connectAgent("alice")
	bob, _ := e.connectAgent("bob")
	admin := "Bearer " + e.login("admin").AccessToken
	for _, st := range []wsproto.Message{{Type: wsproto.TypeStatus, ID: "s1", Status: "away", Reason: "lunch"}, {Type: wsproto.TypeStatus, ID: "s2", Status: "available"}} {
		alice.send(st)
		alice.readUntil(wsproto.TypeAck)
	}
	bob.send(wsproto.Message{Type: wsproto.TypeStatus, ID: "b1", Status: "away", Reason: "meeting"})
	bob.readUntil(wsproto.TypeAck)
	if resp, body := e.do("PUT", "/api/v1/agents/1001/status", map[string]string{"status": "busy_elsewhere"}, "Authorization", admin); resp.StatusCode != 200 {
		t.Fatalf("PUT: %d %s", resp.StatusCode, body)
	}
	resp, body := e.do("GET", "/api/v1/agents", nil, "Authorization", admin)
	var rest struct{ Items []cti.AgentPresence }
	if err := json.Unmarshal(body, &rest); err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET /agents: %d %s", resp.StatusCode, body)
	}
	matches := func(v *supervisorView) bool {
		for _, a := range rest.Items {
			if got := v.agents[a.Extension]; got.Status != a.Status || got.Reason != a.Reason {
				return false
			}
		}
		return true
	}
	for !matches(&view) {
		view.apply(t, sup.read())
	}
	if view.agents["1001"].Status != cti.StatusBusyElsewhere || view.agents["1002"].Reason != "meeting" {
		t.Fatalf("view %+v", view.agents)
	}
	again := e.dialSupervisor("admin")
	var fresh supervisorView
	fresh.apply(t, again.read())
	if !matches(&fresh) || fresh.seq < view.seq {
		t.Fatalf("re-synced view at %d (was %d): %+v", fresh.seq, view.seq, fresh.agents)
	}
	agent := e.dialSupervisor("bob")
	if m := agent.read(); m.Type != wsproto.TypeError || m.Code != wsproto.CodeForbidden {
		t.Fatalf("an agent watching: %+v", m)
	}
}
