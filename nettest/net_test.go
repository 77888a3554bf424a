//go:build nettest

package nettest

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"
)

const (
	httpPort      = 8080
	sipPort       = 5060
	webrtcUDPPort = 3479
	webrtcTCPPort = 3480
	turnPort      = 3478
	publicCarrier = serverIP + ":5080" // answers outbound calls, after ringing
	turnSecret    = "net-test-turn-secret"
)

// server is ringbridge running in the server namespace.
type server struct {
	*proc
	url   string
	creds map[string]string
}

// startServer runs the real binary on the server's public address, with
// one trunk toward the public carrier that also accepts the NATed one.
func startServer(t *testing.T, tp *topo) *server {
	t.Helper()
	dir := t.TempDir()
	cfg, _ := json.Marshal(map[string]any{"trunks": []map[string]any{{
		"name": "carrier", "address": publicCarrier, "allowFrom": []string{"10.77.0.0/24"},
	}}})
	if err := os.WriteFile(filepath.Join(dir, "config.json"), cfg, 0o600); err != nil {
		t.Fatal(err)
	}
	env := []string{
		"RINGBRIDGE_CONFIG=" + filepath.Join(dir, "config.json"),
		"RINGBRIDGE_TLS=false",
		fmt.Sprintf("RINGBRIDGE_HTTP_ADDR=%s:%d", serverIP, httpPort),
		fmt.Sprintf("RINGBRIDGE_SIP_ADDR=%s:%d", serverIP, sipPort),
		fmt.Sprintf("RINGBRIDGE_WEBRTC_UDP_PORT=%d", webrtcUDPPort),
		fmt.Sprintf("RINGBRIDGE_WEBRTC_TCP_PORT=%d", webrtcTCPPort),
		"RINGBRIDGE_MEDIA_IP=" + serverIP,
		"RINGBRIDGE_DATA_DIR=" + dir,
		"RINGBRIDGE_SHUTDOWN_TIMEOUT=1s",
		fmt.Sprintf("RINGBRIDGE_TURN_URLS=turn:%s:%d?transport=udp", turnIP, turnPort),
		"RINGBRIDGE_TURN_SECRET=" + turnSecret,
	}
	p := tp.start("ringbridge", "server", env, binary(t), "serve")
	p.waitLine(`ringbridge ready`, 0, 30*time.Second)
	text, err := os.ReadFile(filepath.Join(dir, "demo-credentials.txt"))
	if err != nil {
		t.Fatal(err)
	}
	creds := map[string]string{}
	for _, m := range regexp.MustCompile(`(?m)^\s+(\S+)\s+ext\s+\S+\s+role\s+\S+\s+password\s+(\S+)`).FindAllStringSubmatch(string(text), -1) {
		creds[m[1]] = m[2]
	}
	return &server{proc: p, url: fmt.Sprintf("http://%s:%d", serverIP, httpPort), creds: creds}
}

// agent starts the helper agent in a namespace and waits for its media.
func (s *server) agent(t *testing.T, tp *topo, role, login string, env agentEnv) *proc {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	env.URL, env.Login, env.Password = s.url, login, s.creds[login]
	a := tp.start(role+"-"+login, role, env.environ(), self)
	a.waitLine(`^media connected$`, 0, 30*time.Second)
	return a
}

// request sends a command to an agent and waits for its ack; it returns
// the reply's call id (for dial) and how long the reply took.
func request(t *testing.T, a *proc, cmd, arg string, within time.Duration) (string, time.Duration) {
	t.Helper()
	from := a.mark()
	start := time.Now()
	a.send("%s %s", cmd, arg)
	m, _ := a.waitLine(`^sent (r\d+) `+cmd+`$`, from, 5*time.Second)
	r, _ := a.waitLine(`^reply `+m[1]+` (\S+) (\S*) ?(\S*)$`, from, within)
	if r[1] != "ack" {
		t.Fatalf("%s %s: %s %s", cmd, arg, r[1], r[2])
	}
	return r[3], time.Since(start)
}

// One network, every scenario in turn: building it and starting the
// server once keeps the suite to about a minute.
func TestNetworks(t *testing.T) {
	tp := newTopo(t)
	srv := startServer(t, tp)

	t.Run("agent behind NAT, carrier behind NAT: hold, rebinding, hang-up", func(t *testing.T) {
		tp := tp.with(t)
		alice := srv.agent(t, tp, "agent", "alice", agentEnv{Tone: 440, Hear: []float64{1000}})
		defer alice.stop()
		// The carrier calls from behind the NAT with its private Contact.
		from := alice.mark()
		carrier := tp.start("carrier", "carrier", nil, binary(t), "dial",
			"-server", fmt.Sprintf("%s:%d", serverIP, sipPort), "-listen", fmt.Sprintf("%s:%d", carrierIP, carrierSIP),
			"-tone", "1000", "-expect", "440", "-report", "50ms", "-duration", "2m", "1001")
		defer carrier.stop()
		m, _ := alice.waitLine(`^call (\S+) ringing$`, from, 15*time.Second)
		call := m[1]
		request(t, alice, "answer", call, 10*time.Second)

		// Agent behind MASQUERADE: tones at both ends.
		alice.waitHeard("1000", 25, 10*time.Second, "the carrier's 1000 Hz at the agent")
		carrier.waitHeard("", 25, 10*time.Second, "the agent's 440 Hz at the carrier")

		// Hold and resume reach the NATed carrier (its re-INVITE answer is
		// what acknowledges the agent's request).
		if _, took := request(t, alice, "hold", call, 12*time.Second); took > 3*time.Second {
			t.Errorf("hold took %v: the re-INVITE did not reach the carrier at once", took)
		}
		request(t, alice, "unhold", call, 12*time.Second)
		alice.waitHeard("1000", 25, 5*time.Second, "the carrier after resuming")
		carrier.waitHeard("", 25, 5*time.Second, "the agent after resuming")

		// The carrier's NAT rebinds its RTP mid-call: both ends hear each
		// other again within a second.
		// Both counts must grow by 15 frames (300 ms of tone) after the old
		// bindings are gone; the time to that includes those 300 ms (and
		// up to 50 ms of reporting lag, which can only count frames that
		// came before).
		tp.rebindCarrierRTP()
		rebound := time.Now()
		agentFrom, carrierFrom := alice.count("1000"), carrier.count("")
		var agentBack, carrierBack time.Duration
		for agentBack == 0 || carrierBack == 0 {
			if time.Since(rebound) > 5*time.Second {
				t.Fatalf("after the rebinding: agent %d→%d, carrier %d→%d tone frames in 5 s", agentFrom, alice.count("1000"), carrierFrom, carrier.count(""))
			}
			if agentBack == 0 && alice.count("1000") >= agentFrom+15 {
				agentBack = time.Since(rebound)
			}
			if carrierBack == 0 && carrier.count("") >= carrierFrom+15 {
				carrierBack = time.Since(rebound)
			}
			time.Sleep(5 * time.Millisecond)
		}
		t.Logf("NAT rebinding: 300 ms of tone heard again after %v at the agent, %v at the carrier", agentBack, carrierBack)
		if agentBack > time.Second || carrierBack > time.Second {
			t.Errorf("audio back after %v / %v, want under 1 s", agentBack, carrierBack)
		}

		// The agent hangs up: the BYE reaches the NATed carrier.
		cfrom := carrier.mark()
		if _, took := request(t, alice, "hangup", call, 8*time.Second); took > 2*time.Second {
			t.Errorf("hang-up took %v: the BYE did not reach the carrier at once", took)
		}
		carrier.waitLine(`call ended by far end`, cfrom, 3*time.Second)
	})

	t.Run("180 without SDP: the agent hears ringback, then the answer", func(t *testing.T) {
		tp := tp.with(t)
		answer := tp.start("public-carrier", "server", nil, binary(t), "answer", "-listen", publicCarrier, "-tone", "1000", "-delay", "3s")
		defer answer.stop()
		answer.waitLine(`answering calls`, 0, 10*time.Second)
		alice := srv.agent(t, tp, "agent", "alice", agentEnv{Tone: 440, Hear: []float64{425, 1000}})
		defer alice.stop()
		call, _ := request(t, alice, "dial", "+15550100", 10*time.Second)
		alice.waitHeard("425", 25, 5*time.Second, "ringback (425 Hz) while the far end rings")
		if n := alice.count("1000"); n != 0 {
			t.Errorf("the far end's tone heard before it answered (%d frames)", n)
		}
		alice.waitLine(`^call `+call+` active$`, 0, 10*time.Second)
		alice.waitHeard("1000", 25, 5*time.Second, "the far end after it answered")
		request(t, alice, "hangup", call, 8*time.Second)
	})

	t.Run("agent with UDP blocked: ICE-TCP", func(t *testing.T) {
		tp := tp.with(t)
		bob := srv.agent(t, tp, "tcpagent", "bob", agentEnv{Tone: 440, Hear: []float64{1000}, TCP: true})
		defer bob.stop()
		farEndCallsIn(t, tp, srv, bob)
	})

	t.Run("agent with only a TURN relay reachable", func(t *testing.T) {
		tp := tp.with(t)
		turn := startTURN(t, tp)
		defer turn.stop()
		bob := srv.agent(t, tp, "turnagent", "bob", agentEnv{Tone: 440, Hear: []float64{1000}, Relay: true})
		defer bob.stop()
		farEndCallsIn(t, tp, srv, bob)
		// The relay took the credentials the server signed for this session.
		turn.waitLine(`ALLOCATE processed, success`, 0, time.Second)
		turn.waitLine(`CREATE_PERMISSION processed, success`, 0, time.Second)
	})
}

// farEndCallsIn has the NATed carrier call agent a's extension; a answers
// and both must hear each other.
func farEndCallsIn(t *testing.T, tp *topo, srv *server, a *proc) {
	t.Helper()
	from := a.mark()
	carrier := tp.start("carrier", "carrier", nil, binary(t), "dial",
		"-server", fmt.Sprintf("%s:%d", serverIP, sipPort), "-listen", fmt.Sprintf("%s:%d", carrierIP, carrierSIP),
		"-tone", "1000", "-expect", "440", "-report", "50ms", "-duration", "1m", "1002")
	defer carrier.stop()
	m, _ := a.waitLine(`^call (\S+) ringing$`, from, 15*time.Second)
	request(t, a, "answer", m[1], 10*time.Second)
	a.waitHeard("1000", 25, 10*time.Second, "the carrier's 1000 Hz at the agent")
	carrier.waitHeard("", 25, 10*time.Second, "the agent's 440 Hz at the carrier")
	request(t, a, "hangup", m[1], 8*time.Second)
}

// startTURN runs coturn on the router, on the TURN agent's side, with the
// shared secret the server signs its per-session credentials with.
func startTURN(t *testing.T, tp *topo) *proc {
	t.Helper()
	if _, err := os.Stat("/usr/bin/turnserver"); err != nil {
		t.Skip("coturn is not installed (make test-net installs it)")
	}
	p := tp.start("coturn", "router", nil, "/usr/bin/turnserver", "-n", "-v", "--log-file=stdout", "--no-cli", "--no-tls", "--no-dtls",
		"--listening-ip="+turnIP, fmt.Sprintf("--listening-port=%d", turnPort), "--relay-ip="+routerWAN,
		"--use-auth-secret", "--static-auth-secret="+turnSecret, "--realm=ringbridge.test", "--allowed-peer-ip="+serverIP,
		"--min-port=49152", "--max-port=49999", "--pidfile="+filepath.Join(t.TempDir(), "turn.pid"))
	p.waitLine(`(?i)SQLite DB connection success|DB connection success`, 0, 10*time.Second)
	return p
}
