//go:build nettest

package nettest

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
)

// The network every scenario runs on:
//
//	agent  192.168.50.2 ─┐
//	carrier 192.168.60.2 ─┤ router (NAT: MASQUERADE, SNAT for the
//	turnagent 192.168.70.2┤  carrier's RTP, coturn on 192.168.70.1)
//	tcpagent 192.168.80.2 ┘       │ 10.77.0.1
//	                          server 10.77.0.2 (ringbridge, the public carrier)
//
// The server sees every private host only as 10.77.0.1.
const (
	serverIP    = "10.77.0.2"
	routerWAN   = "10.77.0.1"
	agentIP     = "192.168.50.2"
	carrierIP   = "192.168.60.2"
	turnAgentIP = "192.168.70.2"
	turnIP      = "192.168.70.1"
	tcpAgentIP  = "192.168.80.2"
	carrierSIP  = 5062 // the NATed carrier's SIP port
	rtpPortsA   = "21000-21999"
	rtpPortsB   = "22000-22999"
)

var topoSeq atomic.Int32

// topo is the set of namespaces of one test run.
type topo struct {
	t      testing.TB
	prefix string
}

// with is the topology seen from test t (a subtest): processes it starts
// fail t, and end with it.
func (tp *topo) with(t testing.TB) *topo { c := *tp; c.t = t; return &c }

// ns names a namespace of this run.
func (tp *topo) ns(role string) string { return tp.prefix + role }

// run runs a command on the host and fails the test on error.
func run(t testing.TB, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// in runs a command inside a namespace.
func (tp *topo) in(role string, args ...string) string {
	tp.t.Helper()
	return run(tp.t, "ip", append([]string{"netns", "exec", tp.ns(role)}, args...)...)
}

// canBuild reports why namespaces cannot be built here ("" if they can).
func canBuild() string {
	if os.Geteuid() != 0 {
		return "network namespaces need root"
	}
	for _, tool := range []string{"ip", "iptables", "conntrack"} {
		if _, err := exec.LookPath(tool); err != nil {
			return tool + " is not installed (make test-net installs it)"
		}
	}
	name := fmt.Sprintf("rbprobe%d", os.Getpid())
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		return fmt.Sprintf("cannot create a network namespace: %v %s", err, bytes.TrimSpace(out))
	}
	_ = exec.Command("ip", "netns", "del", name).Run()
	return ""
}

// newTopo builds the network; t.Cleanup removes it.
func newTopo(t testing.TB) *topo {
	t.Helper()
	if why := canBuild(); why != "" {
		t.Skip("network namespace tests cannot run here: " + why)
	}
	tp := &topo{t: t, prefix: fmt.Sprintf("rb%d%c-", os.Getpid()%100000, 'a'+rune(topoSeq.Add(1)%26))}
	roles := []string{"router", "server", "agent", "carrier", "turnagent", "tcpagent"}
	t.Cleanup(func() {
		for _, r := range roles {
			_ = exec.Command("ip", "netns", "del", tp.ns(r)).Run() // deleting a namespace deletes its veths
		}
	})
	for _, r := range roles {
		run(t, "ip", "netns", "add", tp.ns(r))
		tp.in(r, "ip", "link", "set", "lo", "up")
	}
	// One veth pair per host, the router's end named after it.
	link := func(host, routerDev, hostIP, routerIP string) {
		hostDev := "eth0"
		tmp := "v" + strings.TrimSuffix(tp.prefix, "-") + routerDev // at most 15 bytes
		run(t, "ip", "link", "add", tmp, "type", "veth", "peer", "name", tmp+"p")
		run(t, "ip", "link", "set", tmp, "netns", tp.ns("router"))
		run(t, "ip", "link", "set", tmp+"p", "netns", tp.ns(host))
		tp.in("router", "ip", "link", "set", tmp, "name", routerDev)
		tp.in(host, "ip", "link", "set", tmp+"p", "name", hostDev)
		tp.in("router", "ip", "addr", "add", routerIP+"/24", "dev", routerDev)
		tp.in(host, "ip", "addr", "add", hostIP+"/24", "dev", hostDev)
		tp.in("router", "ip", "link", "set", routerDev, "up")
		tp.in(host, "ip", "link", "set", hostDev, "up")
		if host != "server" {
			tp.in(host, "ip", "route", "add", "default", "via", routerIP)
		}
	}
	link("server", "wan", serverIP, routerWAN)
	link("agent", "lan1", agentIP, "192.168.50.1")
	link("carrier", "lan2", carrierIP, "192.168.60.1")
	link("turnagent", "lan3", turnAgentIP, turnIP)
	link("tcpagent", "lan4", tcpAgentIP, "192.168.80.1")
	tp.in("router", "sysctl", "-qw", "net.ipv4.ip_forward=1")

	// NAT: the carrier's SIP keeps a MASQUERADE binding; its RTP is
	// SNATed into a port range the rebinding test swaps; everyone else is
	// MASQUERADEd.
	ipt := func(args ...string) { tp.in("router", append([]string{"iptables"}, args...)...) }
	ipt("-t", "nat", "-A", "POSTROUTING", "-o", "wan", "-s", carrierIP, "-p", "udp", "--sport", fmt.Sprint(carrierSIP), "-j", "MASQUERADE")
	ipt("-t", "nat", "-A", "POSTROUTING", "-o", "wan", "-s", carrierIP, "-p", "udp", "-j", "SNAT", "--to-source", routerWAN+":"+rtpPortsA)
	ipt("-t", "nat", "-A", "POSTROUTING", "-o", "wan", "-j", "MASQUERADE")
	// The TURN agent reaches the server's web port and the relay, nothing else.
	ipt("-A", "FORWARD", "-i", "lan3", "-p", "tcp", "-d", serverIP, "--dport", fmt.Sprint(httpPort), "-j", "ACCEPT")
	ipt("-A", "FORWARD", "-i", "lan3", "-j", "DROP")
	// The TCP agent's UDP is blocked.
	ipt("-A", "FORWARD", "-i", "lan4", "-p", "udp", "-j", "DROP")
	return tp
}

// rebindCarrierRTP moves the carrier's RTP to a new NAT port, as a home
// router or a carrier-grade NAT does when a binding expires: the SNAT
// range changes and the current bindings are forgotten. SIP keeps its own.
func (tp *topo) rebindCarrierRTP() {
	tp.t.Helper()
	tp.in("router", "iptables", "-t", "nat", "-R", "POSTROUTING", "2", "-o", "wan", "-s", carrierIP, "-p", "udp",
		"-j", "SNAT", "--to-source", routerWAN+":"+rtpPortsB)
	// conntrack -D exits 1 when nothing matched; the SIP binding stays.
	out := tp.in("router", "conntrack", "-L", "-p", "udp", "-s", carrierIP)
	for _, line := range strings.Split(out, "\n") {
		f := fieldOf(line, "sport=")
		if f == "" || f == fmt.Sprint(carrierSIP) {
			continue
		}
		_ = exec.Command("ip", "netns", "exec", tp.ns("router"), "conntrack", "-D", "-p", "udp", "-s", carrierIP, "--sport", f).Run()
	}
}

// fieldOf returns the first value of key (like "sport=") in a conntrack line.
func fieldOf(line, key string) string {
	i := strings.Index(line, key)
	if i < 0 {
		return ""
	}
	v := line[i+len(key):]
	if j := strings.IndexByte(v, ' '); j >= 0 {
		v = v[:j]
	}
	return v
}
