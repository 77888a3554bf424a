//go:build cluster

package main

// The product on PostgreSQL, with several nodes: built with -tags cluster
// (make test-cluster), which also runs the shared store suite on the same
// kind of server. TestMain starts one throwaway PostgreSQL server on
// loopback for the package's run; each test gets its own database.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fasthttp/websocket"
	"github.com/ringbridge/ringbridge/cti"
	"github.com/ringbridge/ringbridge/cti/natsbus/natstest"
	"github.com/ringbridge/ringbridge/cti/store/postgres/pgtest"
	"github.com/ringbridge/ringbridge/media/mediatest"
	"github.com/ringbridge/ringbridge/media/trunk"
	"github.com/ringbridge/ringbridge/server/wsproto"
)

var (
	pgCluster  *pgtest.Cluster
	natsServer *natstest.Server
)

func TestMain(m *testing.M) {
	c, err := pgtest.Start(context.Background())
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	n, err := natstest.Start(context.Background())
	if err != nil {
		c.Stop()
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	pgCluster, natsServer = c, n
	code := m.Run()
	n.Stop()
	c.Stop()
	os.Exit(code)
}

// A call through the product on PostgreSQL: heard both ways, its record
// stored in the database (and no SQLite file made).
func TestClusterCallOnPostgres(t *testing.T) {
	url := pgCluster.NewDatabase(t)
	var dataDir string
	e := startE2E(t, func(c *Config) {
		c.Store, c.PostgresURL, c.Node = storePostgres, url, "n1"
		dataDir = c.DataDir
	})
	a := e.signIn("alice", 440)
	ring, call := e.ringAndAnswer(a, "1001")
	heard := carrierAudio(call, 1000)
	a.hears(1000)
	if err := heard.WaitFor(e.ctx, 440); err != nil {
		t.Fatalf("caller does not hear the agent: %v", err)
	}
	if err := call.Hangup(e.ctx); err != nil {
		t.Fatal(err)
	}
	a.waitCall("ended")
	admin := "Bearer " + e.login("admin")
	st, body := e.api("GET", "/api/v1/calls/"+ring.ID, admin, nil)
	if st != 200 || !strings.Contains(string(body), `"endReason"`) {
		t.Fatalf("call record: %d %s", st, body)
	}
	if _, err := os.Stat(filepath.Join(dataDir, "ringbridge.db")); !os.IsNotExist(err) {
		t.Fatalf("a SQLite database was made beside PostgreSQL: %v", err)
	}
}

// clusterNode configures a real binary as node name of the database at
// url; nodes share the JWT secret and the secrets key (copied from
// keyFrom's data directory), as docs/scale-out.md asks.
func clusterNode(url, name, keyFrom string, rtpOffset int) func(map[string]any) {
	return func(c map[string]any) {
		c["store"], c["postgresUrl"], c["node"] = storePostgres, url, name
		c["jwtSecret"] = "cluster-test-secret-3f9a1c0e7b2d4a68"
		if rtpOffset > 0 {
			var lo, hi int
			fmt.Sscanf(c["rtpPorts"].(string), "%d-%d", &lo, &hi)
			c["rtpPorts"] = fmt.Sprintf("%d-%d", lo+rtpOffset, hi+rtpOffset)
		}
		if keyFrom != "" {
			key, err := os.ReadFile(filepath.Join(keyFrom, "secrets.key"))
			if err == nil {
				err = os.WriteFile(filepath.Join(c["dataDir"].(string), "secrets.key"), key, 0o600)
			}
			if err != nil {
				panic(err)
			}
		}
	}
}

// Two real ringbridge processes on one database: a call on node A is in
// node B's history, a token from A works on B, and the webhook outbox
// delivers each event once while node A, which holds the endpoint's
// lease, is killed (SIGKILL) mid-stream: node B takes the queue over, and
// a repeat, if any, carries the same webhook-id.
func TestClusterTwoNodes(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	carrier, err := trunk.NewPhone(trunk.PhoneConfig{Listen: "127.0.0.1:0", User: "carrier"})
	if err != nil {
		t.Fatal(err)
	}
	defer carrier.Close()
	events, crm := newEventLog()
	defer crm.Close()
	url := pgCluster.NewDatabase(t)

	pa := newProc(t, carrier, clusterNode(url, "a", "", 0))
	ea := pa.e2e(ctx, carrier)
	admin := "Bearer " + ea.login("admin")
	if st, body := ea.api("POST", "/api/v1/webhooks", admin, map[string]any{"url": crm.URL, "events": []string{"call.updated"}}); st != 201 {
		t.Fatalf("create webhook: %d %s", st, body)
	}
	pb := newProc(t, carrier, clusterNode(url, "b", pa.dataDir, 40))
	eb := &e2e{t: t, ctx: ctx, base: pb.base, sip: pb.sip, carrier: carrier, creds: ea.creds}

	// A call through node A, heard both ways.
	alice := ea.signIn("alice", 440)
	ring, call := ea.ringAndAnswer(alice, "1001")
	heard := carrierAudio(call, 1000)
	alice.hears(1000)
	if err := heard.WaitFor(ctx, 440); err != nil {
		t.Fatalf("caller does not hear the agent: %v", err)
	}
	if err := call.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	alice.waitCall("ended")
	// Node B shows it, to a token node A issued.
	if st, body := eb.api("GET", "/api/v1/calls/"+ring.ID, admin, nil); st != 200 {
		t.Fatalf("node B: call record: %d %s", st, body)
	}

	// Updates of the call's record through both nodes, one after the
	// other; each acknowledged one must reach the CRM once.
	var acked []string
	client := &http.Client{Timeout: 3 * time.Second}
	patch := func(base, tok string) bool {
		b, _ := json.Marshal(map[string]string{"notes": tok})
		req, _ := http.NewRequest("PATCH", base+"/api/v1/calls/"+ring.ID, bytes.NewReader(b))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", admin)
		res, err := client.Do(req)
		if err != nil {
			return false
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return res.StatusCode == 200
	}
	began := time.Now()
	var killedAt time.Time
	killedAfter := 0
	for n := 0; killedAt.IsZero() || time.Since(killedAt) < 2*time.Second; n++ {
		if killedAt.IsZero() && time.Since(began) > 1500*time.Millisecond {
			pa.kill() // SIGKILL by PID
			killedAt, killedAfter = time.Now(), len(acked)
		}
		tok := fmt.Sprintf("g0-%06d", n)
		base := pb.base
		if n%2 == 0 && killedAt.IsZero() {
			base = pa.base
		}
		if patch(base, tok) {
			acked = append(acked, tok)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if len(acked) < 100 {
		t.Fatalf("only %d acknowledged updates", len(acked))
	}

	var missing []string
	for deadline := time.Now().Add(45 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		got, _ := events.tokens()
		missing = missing[:0]
		for _, tok := range acked {
			if len(got[tok]) == 0 {
				missing = append(missing, tok)
			}
		}
		if len(missing) == 0 || time.Now().After(deadline) {
			break
		}
	}
	deliveredAt := time.Now()
	if len(missing) > 0 {
		slices.Sort(missing)
		t.Fatalf("%d of %d acknowledged updates never reached the CRM, e.g. %v", len(missing), len(acked), missing[:min(10, len(missing))])
	}
	got, inOrder := events.tokens()
	for tok, ids := range got {
		if len(ids) > 1 {
			t.Errorf("%s delivered as %d different events %v", tok, len(ids), ids)
		}
	}
	for i := 1; i < len(inOrder); i++ {
		if inOrder[i] < inOrder[i-1] {
			t.Fatalf("%s arrived after %s", inOrder[i], inOrder[i-1])
		}
	}
	events.mu.Lock()
	hits, distinct := events.hits, len(events.byID)
	events.mu.Unlock()
	if hits-distinct > 1 {
		t.Fatalf("%d requests for %d events: more repeats than the one request in flight at the kill", hits, distinct)
	}
	t.Logf("%d acknowledged updates through two nodes (node A killed after %d), %d events in %d requests; all delivered %v after the kill",
		len(acked), killedAfter, distinct, hits, deliveredAt.Sub(killedAt).Round(time.Millisecond))
}

// Two real nodes on one database and one NATS server: a supervisor
// connected to node B sees an agent signed in on node A change status, as
// a delta, and a supervisor connecting to B afterwards finds it in the
// snapshot. (Without the bus, node B's supervisor sees nothing of it.)
func TestClusterSupervisorSeesAgentOnOtherNode(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	carrier, err := trunk.NewPhone(trunk.PhoneConfig{Listen: "127.0.0.1:0", User: "carrier"})
	if err != nil {
		t.Fatal(err)
	}
	defer carrier.Close()
	url := pgCluster.NewDatabase(t)
	withBus := func(f func(map[string]any)) func(map[string]any) {
		return func(c map[string]any) { f(c); c["bus"], c["natsUrl"] = busNATS, natsServer.URL() }
	}
	pa := newProc(t, carrier, withBus(clusterNode(url, "a", "", 0)))
	ea := pa.e2e(ctx, carrier)
	pb := newProc(t, carrier, withBus(clusterNode(url, "b", pa.dataDir, 40)))
	admin := ea.login("admin") // accepted by both nodes

	supervise := func() (*websocket.Conn, cti.Snapshot) {
		conn, _, err := websocket.DefaultDialer.Dial(strings.Replace(pb.base, "http", "ws", 1)+"/ws/supervisor",
			http.Header{"Origin": {pb.base}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		if err := conn.WriteJSON(wsproto.Message{Type: wsproto.TypeAuth, Token: admin}); err != nil {
			t.Fatal(err)
		}
		for {
			m := readWS(t, conn)
			if m.Type == wsproto.TypeSnapshot {
				var snap cti.Snapshot
				if err := json.Unmarshal(m.Snapshot, &snap); err != nil {
					t.Fatal(err)
				}
				return conn, snap
			}
		}
	}
	sup, snap := supervise()
	for _, ag := range snap.Agents {
		if ag.Extension == "1001" && ag.Status != cti.StatusOffline {
			t.Fatalf("alice before signing in: %+v", ag)
		}
	}

	// Alice signs in on node A and goes away.
	agent, _, err := websocket.DefaultDialer.Dial(strings.Replace(pa.base, "http", "ws", 1)+"/ws/agent", http.Header{"Origin": {pa.base}})
	if err != nil {
		t.Fatal(err)
	}
	defer agent.Close()
	if err := agent.WriteJSON(wsproto.Message{Type: wsproto.TypeAuth, Token: ea.login("alice")}); err != nil {
		t.Fatal(err)
	}
	if acked, _ := wsRequest(agent, wsproto.Message{ID: "s1", Type: wsproto.TypeStatus, Status: "away", Reason: "lunch"}); !acked {
		t.Fatal("status change refused")
	}
	for {
		m := readWS(t, sup)
		if m.Type != wsproto.TypeDelta {
			continue
		}
		var d cti.Delta
		if err := json.Unmarshal(m.Delta, &d); err != nil {
			t.Fatal(err)
		}
		if d.Agent != nil && d.Agent.Extension == "1001" && d.Agent.Status == cti.StatusAway && d.Agent.Reason == "lunch" {
			break
		}
	}
	_, snap = supervise()
	for _, ag := range snap.Agents {
		if ag.Extension == "1001" && (ag.Status != cti.StatusAway || ag.Reason != "lunch") {
			t.Fatalf("alice in node B's next snapshot: %+v", ag)
		}
	}
}

// readWS reads one message, failing the test after 10 s.
func readWS(t *testing.T, c *websocket.Conn) wsproto.Message {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	var m wsproto.Message
	if err := c.ReadJSON(&m); err != nil {
		t.Fatalf("websocket: %v", err)
	}
	return m
}

// frontDoorCluster is three real nodes on one database and one NATS
// server behind Kamailio, with alice (1001), bob (1002) and carol (1003).
type frontDoorCluster struct {
	ctx     context.Context
	carrier *trunk.Phone
	kam     *kamailio
	procs   []*proc
	e       []*e2e // each node's helpers; e[i].sip is Kamailio
}

func startFrontDoorCluster(t *testing.T, ctx context.Context) *frontDoorCluster {
	t.Helper()
	return startFrontDoorNodes(t, ctx, 3, nil)
}

// startFrontDoorNodes starts n nodes (edit adjusts node i's config).
func startFrontDoorNodes(t *testing.T, ctx context.Context, n int, edit func(i int, c map[string]any)) *frontDoorCluster {
	t.Helper()
	carrier, err := trunk.NewPhone(trunk.PhoneConfig{Listen: "127.0.0.1:0", User: "carrier"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { carrier.Close() })
	url := pgCluster.NewDatabase(t)
	kamPort := freePort(t)
	kamAddr := fmt.Sprintf("127.0.0.1:%d", kamPort)
	var numbers []map[string]any
	for _, ext := range []string{"1001", "1002", "1003"} {
		numbers = append(numbers, map[string]any{"number": ext, "tenant": "demo", "extension": ext})
	}
	node := func(i int, keyFrom string) func(map[string]any) {
		base := clusterNode(url, string(rune('a'+i)), keyFrom, 40*i)
		return func(c map[string]any) {
			base(c)
			c["bus"], c["natsUrl"] = busNATS, natsServer.URL()
			c["trunks"] = []map[string]any{{"name": "frontdoor", "address": kamAddr, "allowFrom": []string{"127.0.0.1/32"}}}
			c["numbers"] = numbers
			if edit != nil {
				edit(i, c)
			}
		}
	}
	fc := &frontDoorCluster{ctx: ctx, carrier: carrier}
	pa := newProc(t, carrier, node(0, ""))
	fc.procs = []*proc{pa}
	for i := 1; i < n; i++ {
		fc.procs = append(fc.procs, newProc(t, carrier, node(i, pa.dataDir)))
	}
	creds := demoCredentials(t, pa.out.String())
	var sips []string
	for _, p := range fc.procs {
		sips = append(sips, p.sip)
	}
	fc.kam = startKamailioAt(t, kamPort, carrier.Addr().String(), sips)
	for _, p := range fc.procs {
		fc.e = append(fc.e, &e2e{t: t, ctx: ctx, base: p.base, sip: kamAddr, carrier: carrier, creds: creds})
	}
	admin := "Bearer " + fc.e[0].login("admin")
	creds["carol"] = "Fernweh-Cluster-pw-4711"
	if st, body := fc.e[0].api("POST", "/api/v1/users", admin, map[string]any{
		"username": "carol", "displayName": "Carol Agent", "extension": "1003", "role": "agent", "password": creds["carol"]}); st != 201 {
		t.Fatalf("create carol: %d %s", st, body)
	}
	return fc
}

// redirects counts the calls nodes sent to another node.
func (fc *frontDoorCluster) redirects() int {
	n := 0
	for _, p := range fc.procs {
		n += strings.Count(p.out.String(), "inbound call redirected to the node holding the agent")
	}
	return n
}

// heardBothWays checks that agent and caller hear each other now.
func heardBothWays(t *testing.T, ctx context.Context, a *wsAgent, call *trunk.PhoneCall, callerHz, agentHz float64) {
	t.Helper()
	heard := carrierAudio(call, callerHz)
	a.heard.Reset()
	a.hears(callerHz)
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := heard.WaitFor(wctx, agentHz); err != nil {
		t.Fatalf("caller does not hear agent (%.0f Hz): %v", agentHz, err)
	}
}

// Calls through Kamailio reach the agent wherever its session lives: the
// node Kamailio picks redirects the call to the agent's node, and the
// caller and the agent hear each other.
func TestClusterFrontDoor(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	fc := startFrontDoorCluster(t, ctx)
	t.Cleanup(func() {
		if t.Failed() {
			for i, p := range fc.procs {
				t.Logf("node %c:\n%s", 'a'+i, p.out.String())
			}
			t.Logf("kamailio:\n%s", fc.kam.out.String())
		}
	})

	// Alice on node A; three calls in turn, which Kamailio's round robin
	// spreads over the three nodes: two of them land on B or C.
	alice := fc.e[0].signIn("alice", 440)
	for i := range 3 {
		_, call := fc.e[0].ringAndAnswer(alice, "1001")
		heardBothWays(t, ctx, alice, call, float64(700+300*i), 440)
		if err := call.Hangup(ctx); err != nil {
			t.Fatal(err)
		}
		alice.waitCall("ended")
		t.Logf("call %d to alice heard both ways", i+1)
	}
	if n := fc.redirects(); n < 2 {
		t.Fatalf("%d calls were redirected to alice's node, want at least 2 of 3", n)
	}

	// Bob on node B, carol on node C; a call to each of the three agents,
	// all held at once, each heard both ways.
	bob := fc.e[1].signIn("bob", 600)
	carol := fc.e[2].signIn("carol", 800)
	type held struct {
		a                 *wsAgent
		id                string
		call              *trunk.PhoneCall
		callerHz, agentHz float64
		heard             *mediatest.ToneDetector
	}
	calls := []*held{{a: alice, callerHz: 1000, agentHz: 440}, {a: bob, callerHz: 1250, agentHz: 600}, {a: carol, callerHz: 1500, agentHz: 800}}
	for i, h := range calls {
		ring, call := fc.e[0].ringAndAnswer(h.a, fmt.Sprint(1001+i))
		h.id, h.call = ring.ID, call
		h.heard = carrierAudio(call, h.callerHz)
		h.a.heard.Reset()
	}
	stillHeard := func(h *held) {
		t.Helper()
		h.heard.Reset()
		h.a.heard.Reset()
		h.a.hears(h.callerHz)
		wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if err := h.heard.WaitFor(wctx, h.agentHz); err != nil {
			t.Fatalf("call %s: caller does not hear the agent: %v", h.id, err)
		}
	}
	for _, h := range calls {
		stillHeard(h)
	}

	// A supervisor on node C sees every agent on a call.
	admin := fc.e[0].login("admin")
	waitAgents(t, fc.procs[2].base, admin, func(by map[string]cti.AgentPresence) bool {
		return by["1001"].Status == cti.StatusOnCall && by["1002"].Status == cti.StatusOnCall && by["1003"].Status == cti.StatusOnCall
	}, "all three agents on a call")

	// Node B dies. The calls on A and C go on, heard; bob is shown
	// offline; his call's record is written by a survivor as node_lost.
	fc.procs[1].kill()
	killed := time.Now()
	stillHeard(calls[0])
	stillHeard(calls[2])
	waitAgents(t, fc.procs[2].base, admin, func(by map[string]cti.AgentPresence) bool {
		return by["1002"].Status == cti.StatusOffline && by["1001"].Status == cti.StatusOnCall
	}, "bob offline once his node is gone")
	t.Logf("bob shown offline %v after his node was killed", time.Since(killed).Round(100*time.Millisecond))

	// Bob signs in on node A and is offered a new call through Kamailio.
	bob2 := fc.e[0].signIn("bob", 650)
	_, call := fc.e[0].ringAndAnswer(bob2, "1002")
	heardBothWays(t, ctx, bob2, call, 1700, 650)
	t.Logf("bob answered a new call on node A %v after node B was killed", time.Since(killed).Round(100*time.Millisecond))
	stillHeard(calls[0])
	stillHeard(calls[2])

	auth := "Bearer " + admin
	for deadline := time.Now().Add(45 * time.Second); ; time.Sleep(250 * time.Millisecond) {
		st, body := fc.e[2].api("GET", "/api/v1/calls/"+calls[1].id, auth, nil)
		var rec cti.CallRecord
		_ = json.Unmarshal(body, &rec)
		if st == 200 && rec.EndReason == cti.EndNodeLost {
			t.Logf("bob's call on node B recorded as node_lost %v after the kill", time.Since(killed).Round(100*time.Millisecond))
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("bob's call on the killed node: %d %s; want endReason node_lost", st, body)
		}
	}
	// The survivors ended none of the live nodes' calls (a call in
	// progress has no record yet, or one without an end).
	for _, h := range []*held{calls[0], calls[2]} {
		st, body := fc.e[0].api("GET", "/api/v1/calls/"+h.id, auth, nil)
		var rec cti.CallRecord
		_ = json.Unmarshal(body, &rec)
		if st != 404 && (st != 200 || rec.EndReason != "") {
			t.Fatalf("call %s on a live node: %d %s; want it still in progress", h.id, st, body)
		}
	}
	stillHeard(calls[0])
	stillHeard(calls[2])
	// Both survivors sweep every 5 s; one wrote the record (the store
	// suite races four for the same rows).
	ended := 0
	for _, p := range []*proc{fc.procs[0], fc.procs[2]} {
		ended += strings.Count(p.out.String(), "call of a lost node ended")
	}
	if ended != 1 {
		t.Fatalf("the survivors ended %d calls of node B, want 1 (bob's)", ended)
	}
}

// waitAgents polls a supervisor's snapshot on the node at base until ok
// holds for its agents by extension.
func waitAgents(t *testing.T, base, token string, ok func(map[string]cti.AgentPresence) bool, what string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		conn, _, err := websocket.DefaultDialer.Dial(strings.Replace(base, "http", "ws", 1)+"/ws/supervisor", http.Header{"Origin": {base}})
		if err != nil {
			t.Fatal(err)
		}
		if err := conn.WriteJSON(wsproto.Message{Type: wsproto.TypeAuth, Token: token}); err != nil {
			t.Fatal(err)
		}
		by := map[string]cti.AgentPresence{}
		for {
			m := readWS(t, conn)
			if m.Type == wsproto.TypeSnapshot {
				var snap cti.Snapshot
				if err := json.Unmarshal(m.Snapshot, &snap); err != nil {
					t.Fatal(err)
				}
				for _, a := range snap.Agents {
					by[a.Extension] = a
				}
				break
			}
		}
		conn.Close()
		if ok(by) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("supervisor never saw %s: %+v", what, by)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// A queued call is held by the node Kamailio gave it to and offered to
// a member signed in on another node: alice, on node A only, answers it
// and she and the caller hear each other (through the leg the holding
// node placed to node A). Then alice calls bob, signed in on node B.
func TestClusterQueueAcrossNodes(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	fc := startFrontDoorCluster(t, ctx)
	t.Cleanup(func() {
		if t.Failed() {
			for i, p := range fc.procs {
				t.Logf("node %c:\n%s", 'a'+i, p.out.String())
			}
		}
	})
	admin := "Bearer " + fc.e[0].login("admin")
	if st, body := fc.e[0].api("POST", "/api/v1/queues", admin, map[string]any{
		"name": "support", "strategy": "longest_idle", "members": []string{"1001"}, "ringSeconds": 15}); st != 201 {
		t.Fatalf("create queue: %d %s", st, body)
	}
	if st, body := fc.e[0].api("POST", "/api/v1/numbers", admin, map[string]any{
		"number": "1009", "route": "queue", "target": "support", "extension": "1002"}); st != 201 {
		t.Fatalf("create number: %d %s", st, body)
	}
	alice := fc.e[0].signIn("alice", 440)
	// A caller cannot hand itself to an extension: Kamailio refuses the
	// parameter from outside, and a node a token it did not sign.
	for _, to := range []string{"sip:1009@" + fc.e[0].sip, "sip:1009@" + fc.procs[0].sip} {
		_, err := fc.carrier.Dial(ctx, to+";rb-handover=eyJ0IjoiZGVtbyIsImUiOiIxMDAxIiwieCI6OTk5OTk5OTk5OX0.Zm9yZ2Vk", "15557654321")
		if err == nil || !strings.Contains(err.Error(), "403") {
			t.Fatalf("INVITE with a forged handover to %s: %v, want 403", to, err)
		}
	}
	handed := func() int {
		n := 0
		for _, p := range fc.procs {
			n += strings.Count(p.out.String(), "queued call offered to an agent on another node")
		}
		return n
	}
	// Kamailio's round robin gives one of three calls to node A itself;
	// call until one is held by B or C (at most three).
	for i := 0; ; i++ {
		before := handed()
		ring, call := fc.e[0].ringAndAnswer(alice, "1009")
		heardBothWays(t, ctx, alice, call, float64(900+200*i), 440)
		crossed := handed() > before
		t.Logf("queued call %d (%s) answered by alice, heard both ways; held by another node: %v", i+1, ring.ID, crossed)
		if err := call.Hangup(ctx); err != nil {
			t.Fatal(err)
		}
		alice.waitCall("ended")
		if crossed {
			break
		}
		if i == 2 {
			t.Fatal("three queued calls and none was held by a node other than alice's")
		}
	}

	// Alice (node A) calls bob's extension; bob is signed in on node B.
	bob := fc.e[1].signIn("bob", 600)
	placed := alice.request(wsproto.Message{Type: wsproto.TypeDial, To: "1002"})
	if placed.Type != wsproto.TypeAck || placed.Call == nil {
		t.Fatalf("alice dials 1002: %+v", placed)
	}
	ring := bob.waitCall("ringing")
	if r := bob.request(wsproto.Message{Type: wsproto.TypeAnswer, CallID: ring.ID}); r.Type != wsproto.TypeAck {
		t.Fatalf("bob answers: %+v", r)
	}
	mine := *alice.wait(func(m wsproto.Message) bool {
		return m.Type == wsproto.TypeCall && m.Call.ID == placed.Call.ID && m.Call.State == "active"
	}).Call
	alice.heard.Reset()
	bob.heard.Reset()
	alice.hears(600)
	bob.hears(440)
	t.Logf("alice on node A and bob on node B hear each other")
	if r := alice.request(wsproto.Message{Type: wsproto.TypeHangup, CallID: mine.ID}); r.Type != wsproto.TypeAck {
		t.Fatalf("alice hangs up: %+v", r)
	}
	alice.wait(func(m wsproto.Message) bool {
		return m.Type == wsproto.TypeCall && m.Call.ID == mine.ID && m.Call.State == "ended"
	})
	bob.wait(func(m wsproto.Message) bool {
		return m.Type == wsproto.TypeCall && m.Call.ID == ring.ID && m.Call.State == "ended"
	})

	// A caller talks to alice, who transfers them to bob (node B): the
	// caller and bob hear each other.
	alice.seen, bob.seen = nil, nil // events of the calls before
	ring2, call := fc.e[0].ringAndAnswer(alice, "1001")
	heardBothWays(t, ctx, alice, call, 1300, 440)
	if r := alice.request(wsproto.Message{Type: wsproto.TypeTransfer, CallID: ring2.ID, To: "1002"}); r.Type != wsproto.TypeAck {
		t.Fatalf("alice transfers to 1002: %+v", r)
	}
	ring3 := bob.waitCall("ringing")
	if r := bob.request(wsproto.Message{Type: wsproto.TypeAnswer, CallID: ring3.ID}); r.Type != wsproto.TypeAck {
		t.Fatalf("bob answers the transfer: %+v", r)
	}
	heardBothWays(t, ctx, bob, call, 1700, 600)
	t.Logf("a caller transferred by alice (node A) to bob (node B): they hear each other")
}
