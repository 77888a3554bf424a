//go:build cluster

package main

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ringbridge/ringbridge/media/mediatest"
	"github.com/ringbridge/ringbridge/media/rtpio"
	"github.com/ringbridge/ringbridge/media/trunk"
)

// TestBenchClusterScale measures the cluster behind Kamailio with 1, 2
// and 3 nodes (make bench-cluster; RB_BENCH_CLUSTER=1): new calls per
// second (answered by a queue, hung up at once), CPU per held call with
// audio both ways, and the failover time of an agent whose node is
// killed. The figures are logged for docs/scale-out.md; nothing is
// asserted about speed.
func TestBenchClusterScale(t *testing.T) {
	if os.Getenv("RB_BENCH_CLUSTER") == "" {
		t.Skip("a benchmark: make bench-cluster runs it (RB_BENCH_CLUSTER=1)")
	}
	held := envInt("RB_BENCH_HELD_PER_NODE", 40)
	cpsFor := time.Duration(envInt("RB_BENCH_CPS_SECONDS", 15)) * time.Second
	for n := 1; n <= 3; n++ {
		t.Run(fmt.Sprintf("nodes=%d", n), func(t *testing.T) {
			benchNodes(t, n, held, cpsFor)
		})
	}
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

func benchNodes(t *testing.T, n, heldPerNode int, cpsFor time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	rtpBase := 20000 + (os.Getpid()%10)*1500
	fc := startFrontDoorNodes(t, ctx, n, func(i int, c map[string]any) {
		lo := rtpBase + i*500
		c["rtpPorts"] = fmt.Sprintf("%d-%d", lo, lo+499)
		c["logLevel"] = "warn"
		// Every INVITE comes from Kamailio's address: the per-source
		// limit meant for a carrier would cap the whole cluster
		// (docs/scale-out.md).
		c["sipRateLimits"] = map[string]any{"invitePerSecond": 2000, "inviteBurst": 4000}
	})
	admin := "Bearer " + fc.e[0].login("admin")
	if st, body := fc.e[0].api("POST", "/api/v1/queues", admin, map[string]any{
		"name": "hold", "strategy": "longest_idle", "members": []string{"1001"}, "ringSeconds": 15}); st != 201 {
		t.Fatalf("create queue: %d %s", st, body)
	}
	if st, body := fc.e[0].api("POST", "/api/v1/numbers", admin, map[string]any{
		"number": "1090", "route": "queue", "target": "hold", "extension": "1002"}); st != 201 {
		t.Fatalf("create number: %d %s", st, body)
	}
	target := "sip:1090@" + fc.e[0].sip

	// New calls per second: 8 callers dial, are answered (the queue),
	// hang up, and dial again.
	var ok, failed atomic.Int64
	var latMu sync.Mutex
	var lat []time.Duration
	errs := map[string]int{}
	cpuBefore := make([]float64, n)
	for i, p := range fc.procs {
		cpuBefore[i] = procCPU(t, p.pid())
	}
	stop := time.Now().Add(cpsFor)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for time.Now().Before(stop) && ctx.Err() == nil {
				began := time.Now()
				dctx, dcancel := context.WithTimeout(ctx, 10*time.Second)
				call, err := fc.carrier.Dial(dctx, target, "15550001111")
				dcancel()
				if err != nil {
					failed.Add(1)
					latMu.Lock()
					errs[err.Error()]++
					latMu.Unlock()
					time.Sleep(50 * time.Millisecond)
					continue
				}
				took := time.Since(began)
				_ = call.Hangup(ctx)
				ok.Add(1)
				latMu.Lock()
				lat = append(lat, took)
				latMu.Unlock()
			}
		})
	}
	wg.Wait()
	var cpuSum float64
	for i, p := range fc.procs {
		cpuSum += procCPU(t, p.pid()) - cpuBefore[i]
	}
	var nodeSaid []string
	for i, p := range fc.procs {
		out := p.out.String()
		nodeSaid = append(nodeSaid, fmt.Sprintf("%c: rate-limited=%d no-rtp-port=%d", 'a'+i,
			strings.Count(out, "SIP rate limit exceeded"), strings.Count(out, "no RTP port")))
	}
	t.Logf("BENCH nodes=%d refusals logged by the nodes: %s", n, strings.Join(nodeSaid, "; "))
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	pct := func(p float64) time.Duration {
		if len(lat) == 0 {
			return 0
		}
		return lat[min(len(lat)-1, int(float64(len(lat))*p))].Round(time.Millisecond)
	}
	t.Logf("BENCH nodes=%d cps=%.1f answered=%d failed=%d answer_p50=%v answer_p95=%v node_cpu_per_call=%.1fms errors=%v",
		n, float64(ok.Load())/cpsFor.Seconds(), ok.Load(), failed.Load(), pct(0.5), pct(0.95),
		cpuSum*1000/float64(max(ok.Load(), 1)), errs)

	// Held calls: heldPerNode×n callers in the queue, audio both ways
	// (the caller sends a tone, the node plays its hold sound).
	total := heldPerNode * n
	var calls []*trunk.PhoneCall
	var heardAny atomic.Int64
	for i := range total {
		var call *trunk.PhoneCall
		var err error
		// Right after the burst Kamailio may have a node marked down
		// (a 503) until its next probe.
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(200 * time.Millisecond) {
			if call, err = fc.carrier.Dial(ctx, target, fmt.Sprintf("1555%07d", i)); err == nil || time.Now().After(deadline) {
				break
			}
		}
		if err != nil {
			t.Fatalf("held call %d: %v", i, err)
		}
		gen := mediatest.NewToneGenerator(1000, 0.3, 8000)
		call.SendAudio(func(_ rtpio.Codec, dst []byte) { gen.NextPCMU(dst) })
		call.OnAudio(func(rtpio.Codec, []byte) { heardAny.Add(1) })
		calls = append(calls, call)
	}
	time.Sleep(2 * time.Second) // settle: every call's media flowing
	before := make([]float64, n)
	for i, p := range fc.procs {
		before[i] = procCPU(t, p.pid())
	}
	kamBefore := procTreeCPU(fc.kam.cmd.Process.Pid)
	const window = 10 * time.Second
	time.Sleep(window)
	var per []string
	var sum float64
	for i, p := range fc.procs {
		used := (procCPU(t, p.pid()) - before[i]) / window.Seconds() * 100 // % of one core
		sum += used
		per = append(per, fmt.Sprintf("%c=%.1f%%", 'a'+i, used))
	}
	kam := (procTreeCPU(fc.kam.cmd.Process.Pid) - kamBefore) / window.Seconds() * 100
	t.Logf("BENCH nodes=%d held=%d (%d per node) node_cpu=[%s] cpu_per_call=%.2f%%_of_a_core kamailio_cpu=%.1f%% frames_heard_by_callers=%d",
		n, total, heldPerNode, strings.Join(per, " "), sum/float64(total), kam, heardAny.Load())
	for _, c := range calls {
		_ = c.Hangup(ctx)
	}

	if n < 3 {
		return
	}
	// Failover: alice is signed in on node C, which is killed; she signs
	// in again on node A at once (as the widget retries) and is called.
	alice := fc.e[2].signIn("alice", 440)
	_ = alice
	fc.procs[2].kill()
	killed := time.Now()
	alice2 := fc.e[0].signIn("alice", 440)
	signedIn := time.Since(killed)
	_, call := fc.e[0].ringAndAnswer(alice2, "1001")
	offered := time.Since(killed)
	heardBothWays(t, ctx, alice2, call, 1000, 440)
	_ = call.Hangup(ctx)
	t.Logf("BENCH failover: agent signed in on another node %v after the kill, answered a call through Kamailio %v after it",
		signedIn.Round(time.Millisecond), offered.Round(time.Millisecond))
}

// procCPU is a process's user+system CPU seconds so far.
func procCPU(t *testing.T, pid int) float64 {
	t.Helper()
	v, err := statCPU(pid)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func statCPU(pid int) (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	ut, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return (ut + st) / 100, nil // USER_HZ is 100 on Linux
}

// procTreeCPU is the CPU seconds of pid and its direct children
// (Kamailio's workers).
func procTreeCPU(pid int) float64 {
	total, _ := statCPU(pid)
	kids, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
	for _, k := range strings.Fields(string(kids)) {
		if id, err := strconv.Atoi(k); err == nil {
			v, _ := statCPU(id)
			total += v
		}
	}
	return total
}

// pid is the running process's id (0 if none).
func (p *proc) pid() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil || p.cmd.Process == nil {
		return 0
	}
	return p.cmd.Process.Pid
}
