//go:build nettest

package nettest

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// The shipped widget in Chromium, behind the NAT, in a call with a SIP
// caller: the agent's network changes (its address is replaced, as on a
// switch from Wi-Fi to LTE). The widget must notice by itself, reconnect
// and restart ICE, and the caller must hear the agent again within 5 s.
// Then the page is reloaded mid-call and the call's audio comes back.
func TestChromiumNetworkSwitch(t *testing.T) {
	tp := newTopo(t)
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatal("node is not installed (the browser tests need it too)")
	}
	chromium := os.Getenv("RB_CHROMIUM")
	if chromium == "" {
		chromium = "/usr/bin/chromium"
	}
	if _, err := os.Stat(chromium); err != nil {
		t.Fatalf("%s is missing (make test-net installs Debian's chromium)", chromium)
	}
	if _, err := os.Stat("../node_modules/playwright-core"); err != nil {
		t.Fatal("playwright-core is missing: run npm ci (make test-net does)")
	}
	srv := startServer(t, tp)
	script, err := filepath.Abs("chromium-agent.mjs")
	if err != nil {
		t.Fatal(err)
	}
	env := []string{"RBNET_URL=" + srv.url, "RBNET_LOGIN=alice", "RBNET_PASSWORD=" + srv.creds["alice"], "RB_BIN=" + binary(t)}
	page := tp.start("chromium", "agent", env, node, script)
	page.waitLine(`^signed in$`, 0, 60*time.Second)

	carrier := tp.start("carrier", "carrier", nil, binary(t), "dial",
		"-server", serverIP+":5060", "-listen", carrierIP+":5062",
		"-tone", "1000", "-expect", "440", "-report", "50ms", "-duration", "2m", "1001")
	page.waitLine(`^answered$`, 0, 30*time.Second)
	carrier.waitHeard("", 50, 15*time.Second, "the page's 440 Hz at the caller")

	// The agent's network changes under the call.
	tp.in("agent", "ip", "addr", "del", agentIP+"/24", "dev", "eth0")
	tp.in("agent", "ip", "addr", "add", "192.168.50.3/24", "dev", "eth0")
	tp.in("agent", "ip", "route", "add", "default", "via", "192.168.50.1")
	changed := time.Now()
	t.Logf("address changed at t=%d", changed.UnixMilli())
	base := carrier.count("")
	for carrier.count("") < base+25 {
		if time.Since(changed) > 20*time.Second {
			t.Fatalf("the caller did not hear the page again within 20 s (%d → %d tone frames); the page said:\n%s",
				base, carrier.count(""), page.output())
		}
		time.Sleep(10 * time.Millisecond)
	}
	took := time.Since(changed)
	t.Logf("network switch: the caller hears the page again (500 ms of tone) %v after its address changed", took)
	if took > 5*time.Second {
		t.Errorf("took %v, want under 5 s; the page said:\n%s", took, page.output())
	}
	// The same call went on: the caller never heard it end.
	select {
	case <-carrier.exited:
		t.Fatalf("the caller's call ended:\n%s", carrier.output())
	default:
	}

	// On the new network the agent reloads the page mid-call: the same
	// call comes back and the caller hears the agent again.
	from := page.mark()
	reloaded := time.Now()
	page.send("reload")
	page.waitLine(`^reloaded$`, from, 20*time.Second)
	carrier.waitHeard("", 25, 10*time.Second, "the page after its reload")
	t.Logf("reload mid-call: the caller hears the page again %v after the reload began", time.Since(reloaded))
	select {
	case <-carrier.exited:
		t.Fatalf("the caller's call ended with the reload:\n%s", carrier.output())
	default:
	}
}
