//go:build cluster

package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/ringbridge/ringbridge/media/mediatest"
	"github.com/ringbridge/ringbridge/media/rtpio"
	"github.com/ringbridge/ringbridge/media/trunk"
	"github.com/ringbridge/ringbridge/server/wsproto"
)

// A supervisor connected to node B listens to, then whispers into, a call
// whose media is on node A (docs/scale-out.md, cluster_monitor.go): node
// B places a leg to node A, which mixes it in with the same rules as a
// local supervisor's softphone. Then, on the same cluster, alice (node A)
// consults bob (node B) and hands the caller over, and alice places a
// call to the carrier through Kamailio; each is heard.
func TestClusterMonitorAndConsultAcrossNodes(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	fc := startFrontDoorNodes(t, ctx, 2, nil)
	t.Cleanup(func() {
		if t.Failed() {
			for i, p := range fc.procs {
				t.Logf("node %c:\n%s", 'a'+i, p.out.String())
			}
		}
	})
	ea, eb := fc.e[0], fc.e[1]
	admin := "Bearer " + ea.login("admin")
	for _, u := range []map[string]any{
		{"username": "sam", "displayName": "Sam Supervisor", "extension": "1004", "role": "supervisor", "teams": []string{"sales"}},
		{"username": "otto", "displayName": "Otto Supervisor", "extension": "1005", "role": "supervisor", "teams": []string{"billing"}},
	} {
		u["password"] = "Fernweh-Cluster-pw-4711"
		ea.creds[u["username"].(string)] = "Fernweh-Cluster-pw-4711"
		if st, body := ea.api("POST", "/api/v1/users", admin, u); st != 201 {
			t.Fatalf("create %s: %d %s", u["username"], st, body)
		}
	}
	st, body := ea.api("GET", "/api/v1/users", admin, nil)
	var users struct {
		Items []struct{ ID, Username string }
	}
	if err := json.Unmarshal(body, &users); st != 200 || err != nil {
		t.Fatalf("list users: %d %s", st, body)
	}
	for _, u := range users.Items {
		if u.Username == "alice" {
			if st, body := ea.api("PATCH", "/api/v1/users/"+u.ID, admin, map[string]any{"teams": []string{"sales"}}); st != 200 {
				t.Fatalf("alice into sales: %d %s", st, body)
			}
		}
	}

	alice := ea.signIn("alice", 440)
	sam := eb.signIn("sam", 1500)
	samTok, ottoTok := "Bearer "+sam.token, "Bearer "+eb.login("otto")
	ring, call := ea.ringAndAnswer(alice, "1001")
	heardBothWays(t, ctx, alice, call, 900, 440)

	// Node B learns of alice's call through the bus; a supervisor of
	// another team is not shown it there (nor could node A be asked).
	monitor := func(tok, mode string) (int, []byte) {
		return eb.api("PUT", "/api/v1/calls/"+ring.ID+"/monitor", tok, map[string]any{"mode": mode})
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		st, body := monitor(samTok, "listen")
		if st == 200 {
			break
		}
		if st != 404 || time.Now().After(deadline) {
			t.Fatalf("sam listens in from node B: %d %s", st, body)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if st, body := monitor(ottoTok, "listen"); st != 404 {
		t.Fatalf("otto (billing) listens to alice (sales): %d %s, want 404", st, body)
	}
	// Two parties heard at once: no tone holds 70 % of a frame, so these
	// ears ask for 20 % (as media/monitor_test.go does).
	samEar, aliceEar, callerEar := mediatest.MixedEar(), mediatest.MixedEar(), mediatest.MixedEar()
	sam.client.OnAudio(samEar.WriteUlaw)
	alice.client.OnAudio(aliceEar.WriteUlaw)
	call.OnAudio(func(_ rtpio.Codec, p []byte) { callerEar.WriteUlaw(p) })
	mediatest.HearsAll(t, ctx, "sam on node B", samEar, 900, 440)
	mediatest.NotHeard(t, ctx, "alice while listened to", aliceEar, 900, 1500)
	t.Logf("sam on node B hears the caller and alice, whose call is on node A")

	// Whisper: alice hears sam, the caller does not.
	if st, body := monitor(samTok, "whisper"); st != 200 {
		t.Fatalf("sam whispers: %d %s", st, body)
	}
	mediatest.HearsAll(t, ctx, "alice while sam whispers", aliceEar, 1500, 900)
	mediatest.NotHeard(t, ctx, "the caller while sam whispers", callerEar, 440, 1500)
	mediatest.HearsAll(t, ctx, "sam whispering", samEar, 900, 440)
	t.Logf("sam whispers from node B: alice hears him, the caller does not")
	// Barge: the caller hears sam too.
	if st, body := monitor(samTok, "barge"); st != 200 {
		t.Fatalf("sam barges in: %d %s", st, body)
	}
	mediatest.HearsAll(t, ctx, "the caller while sam barges in", callerEar, 1500, 440)
	t.Logf("sam barges in from node B: the caller hears him")
	if st, body := eb.api("DELETE", "/api/v1/calls/"+ring.ID+"/monitor", samTok, nil); st != 204 {
		t.Fatalf("sam stops: %d %s", st, body)
	}
	waitLog(t, fc.procs[0].out, "supervisor of another node left the call")
	sam.wait(func(m wsproto.Message) bool { return m.Type == wsproto.TypeCall && m.Call.State == "ended" })
	if st, body := ea.api("GET", "/api/v1/audit", admin, nil); st != 200 ||
		strings.Count(string(body), `"call.monitor"`) != 3 || !strings.Contains(string(body), "call.monitor_stop") {
		t.Fatalf("audit log (three modes, one stop): %d %s", st, body)
	}
	alice.client.OnAudio(alice.heard.WriteUlaw)
	heardBothWays(t, ctx, alice, call, 1100, 440)

	// Consultation: alice consults bob (node B), then hands him the caller.
	bob := eb.signIn("bob", 600)
	if r := alice.request(wsproto.Message{Type: wsproto.TypeConsult, CallID: ring.ID, To: "1002"}); r.Type != wsproto.TypeAck {
		t.Fatalf("alice consults 1002: %+v", r)
	}
	cring := bob.waitCall("ringing")
	if r := bob.request(wsproto.Message{Type: wsproto.TypeAnswer, CallID: cring.ID}); r.Type != wsproto.TypeAck {
		t.Fatalf("bob answers the consultation: %+v", r)
	}
	alice.heard.Reset()
	bob.heard.Reset()
	alice.hears(600)
	bob.hears(440)
	t.Logf("alice (node A) consults bob (node B): they hear each other")
	if r := alice.request(wsproto.Message{Type: wsproto.TypeConsultComplete, CallID: ring.ID}); r.Type != wsproto.TypeAck {
		t.Fatalf("alice completes the transfer: %+v", r)
	}
	heardBothWays(t, ctx, bob, call, 1300, 600)
	t.Logf("after the consultation, the caller and bob hear each other")
	if err := call.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	bob.wait(func(m wsproto.Message) bool {
		return m.Type == wsproto.TypeCall && m.Call.ID == cring.ID && m.Call.State == "ended"
	})

	// An outbound call from node A reaches the carrier through Kamailio.
	alice.seen = nil
	placed := alice.request(wsproto.Message{Type: wsproto.TypeDial, To: "+15559990000"})
	if placed.Type != wsproto.TypeAck {
		t.Fatalf("alice dials out: %+v", placed)
	}
	select {
	case out := <-fc.carrier.Incoming():
		if out.To != "+15559990000" {
			t.Fatalf("carrier was asked for %q", out.To)
		}
		heard := carrierAudio(out, 1700)
		if err := out.Answer(ctx); err != nil {
			t.Fatal(err)
		}
		alice.heard.Reset()
		alice.hears(1700)
		wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
		defer wcancel()
		if err := heard.WaitFor(wctx, 440); err != nil {
			t.Fatalf("called party does not hear alice: %v", err)
		}
		if err := out.Hangup(ctx); err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the carrier never got alice's INVITE")
	}
	alice.wait(func(m wsproto.Message) bool {
		return m.Type == wsproto.TypeCall && m.Call.ID == placed.Call.ID && m.Call.State == "ended"
	})

	// A longest-idle queue with alice (node A, just free) and bob (node B,
	// free since the consultation): a call held by node A goes to bob.
	if st, body := ea.api("POST", "/api/v1/queues", admin, map[string]any{
		"name": "sales", "strategy": "longest_idle", "members": []string{"1001", "1002"}, "ringSeconds": 15}); st != 201 {
		t.Fatalf("create queue: %d %s", st, body)
	}
	if st, body := ea.api("POST", "/api/v1/numbers", admin, map[string]any{
		"number": "1009", "route": "queue", "target": "sales", "extension": "1002"}); st != 201 {
		t.Fatalf("create number: %d %s", st, body)
	}
	bob.seen = nil
	qcalls, qerrs := make(chan *trunk.PhoneCall, 1), make(chan error, 1)
	go func() { // straight to node A, so node A holds the call
		c, err := fc.carrier.Dial(ctx, "sip:1009@"+fc.procs[0].sip, "15557654321")
		if err != nil {
			qerrs <- err
			return
		}
		qcalls <- c
	}()
	qring := bob.waitCall("ringing")
	if r := bob.request(wsproto.Message{Type: wsproto.TypeAnswer, CallID: qring.ID}); r.Type != wsproto.TypeAck {
		t.Fatalf("bob answers the queued call: %+v", r)
	}
	select {
	case qc := <-qcalls:
		heardBothWays(t, ctx, bob, qc, 1900, 600)
		if err := qc.Hangup(ctx); err != nil {
			t.Fatal(err)
		}
	case err := <-qerrs:
		t.Fatal(err)
	}
	if !strings.Contains(fc.procs[0].out.String(), "queued call offered to an agent on another node") {
		t.Fatal("node A did not offer its queued call through a leg to node B")
	}
	t.Logf("node A's queued call went to bob on node B, idle longer than alice on node A; heard both ways")
}

// waitLog polls a node's log for a line.
func waitLog(t *testing.T, out interface{ String() string }, line string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(out.String(), line) {
		if time.Now().After(deadline) {
			t.Fatalf("node never logged %q", line)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
