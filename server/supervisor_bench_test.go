package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	fws "github.com/fasthttp/websocket"

	"github.com/ringbridge/ringbridge/cti"
	"github.com/ringbridge/ringbridge/server/wsproto"
)

// BenchmarkSupervisorWebsocket measures status-change delivery to
// supervisors end to end: 2,000 agents signed in, 50 supervisors on real
// /ws/supervisor websockets, status changes at 200 a second through the
// REST API (PUT /api/v1/agents/{ext}/status, as a supervisor or an
// integration sets them). The clients run in a child process (this test
// binary again), so the latency includes the server's JSON encoding, the
// websocket frames on loopback and the clients' decoding, and the CPU
// and memory reported are the server process's alone. b.N is the number
// of changes.
func BenchmarkSupervisorWebsocket(b *testing.B) {
	const (
		agents      = 2000
		supervisors = 50
		rate        = 200
	)
	e := newEnv(b)
	ctx := b.Context()
	for i := range agents {
		ext := strconv.Itoa(3000 + i)
		u := &cti.User{TenantID: testTenant, Username: "u" + ext, Extension: ext, Role: cti.RoleAgent, PasswordHash: "x"}
		if err := e.store.CreateUser(ctx, u); err != nil {
			b.Fatal(err)
		}
		if _, err := e.svc.Connect(ctx, cti.Principal{TenantID: testTenant, UserID: u.ID, Username: u.Username, Extension: ext, Role: cti.RoleAgent}, false); err != nil {
			b.Fatal(err)
		}
	}
	e.listen()
	token := e.login("admin").AccessToken
	runtime.GC()

	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$", "-test.bench=^$")
	cmd.Env = append(os.Environ(), "RB_SUPERVISOR_BENCH_CLIENT=1", "RB_SB_ADDR="+e.addr, "RB_SB_TOKEN="+token,
		fmt.Sprintf("RB_SB_AGENTS=%d", agents), fmt.Sprintf("RB_SB_SUPERVISORS=%d", supervisors),
		fmt.Sprintf("RB_SB_RATE=%d", rate), fmt.Sprintf("RB_SB_CHANGES=%d", b.N))
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	var ru0, ru1 syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
	peak := peakSampler()
	b.ResetTimer()
	err := cmd.Run()
	b.StopTimer()
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
	heap, rss := peak()
	if err != nil {
		b.Fatalf("client process: %v\n%s%s", err, errOut.String(), out.String())
	}
	var res benchClientResult
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		b.Fatalf("client result %q: %v\n%s", out.String(), err, errOut.String())
	}
	if res.Error != "" {
		b.Fatal(res.Error)
	}
	cpu := time.Duration(ru1.Utime.Nano() + ru1.Stime.Nano() - ru0.Utime.Nano() - ru0.Stime.Nano())
	b.ReportMetric(res.P50Ms, "p50-ms")
	b.ReportMetric(res.P99Ms, "p99-ms")
	b.ReportMetric(res.MaxMs, "max-ms")
	b.ReportMetric(cpu.Seconds()/(time.Duration(res.RunNanos).Seconds())*100, "server-cpu-%")
	b.ReportMetric(heap, "server-heap-MiB")
	b.ReportMetric(rss, "server-rss-MiB")
	b.ReportMetric(0, "ns/op")
}

// peakSampler samples the server's heap and resident memory every 100 ms
// until the returned function is called, which gives the peaks in MiB.
func peakSampler() func() (heap, rss float64) {
	stop := make(chan struct{})
	done := make(chan struct{})
	var heapPeak, rssPeak float64
	sample := func() {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		heapPeak = max(heapPeak, float64(ms.HeapInuse)/(1<<20))
		rssPeak = max(rssPeak, residentMiB())
	}
	go func() {
		defer close(done)
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			sample()
			select {
			case <-stop:
				return
			case <-t.C:
			}
		}
	}()
	return func() (float64, float64) {
		close(stop)
		<-done
		return heapPeak, rssPeak
	}
}

// residentMiB is this process's resident set (VmRSS), 0 when unknown.
func residentMiB() float64 {
	b, _ := os.ReadFile("/proc/self/status")
	for line := range strings.SplitSeq(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			return kb / 1024
		}
	}
	return 0
}

// benchClientResult is what the client process prints.
type benchClientResult struct {
	P50Ms, P99Ms, MaxMs float64
	Deliveries          int
	RunNanos            int64
	Error               string
}

// runSupervisorBenchClient is the client side of the benchmark, run in
// the child process: it returns the process's exit code.
func runSupervisorBenchClient() int {
	res := supervisorBenchClient()
	_ = json.NewEncoder(os.Stdout).Encode(res)
	return 0
}

func supervisorBenchClient() benchClientResult {
	env := func(k string) int { n, _ := strconv.Atoi(os.Getenv(k)); return n }
	addr, token := os.Getenv("RB_SB_ADDR"), os.Getenv("RB_SB_TOKEN")
	agents, sups, rate, changes := env("RB_SB_AGENTS"), env("RB_SB_SUPERVISORS"), env("RB_SB_RATE"), env("RB_SB_CHANGES")
	fail := func(format string, a ...any) benchClientResult {
		return benchClientResult{Error: fmt.Sprintf(format, a...)}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	var (
		mu      sync.Mutex
		sentAt  = map[string]time.Time{} // "ext/status" → when the change was asked for
		latency []time.Duration
		cut     []string
		wg      sync.WaitGroup
	)
	conns := make([]*fws.Conn, 0, sups)
	defer func() {
		for _, c := range conns {
			_ = c.Close()
		}
		wg.Wait()
	}()
	for range sups {
		d := fws.Dialer{HandshakeTimeout: 10 * time.Second}
		c, _, err := d.DialContext(ctx, "ws://"+addr+"/ws/supervisor", http.Header{"Origin": {"http://" + addr}})
		if err != nil {
			return fail("dial supervisor: %v", err)
		}
		conns = append(conns, c)
		if err := c.WriteJSON(wsproto.Message{Type: wsproto.TypeAuth, Token: token}); err != nil {
			return fail("auth: %v", err)
		}
		var snap wsproto.Message
		if err := c.ReadJSON(&snap); err != nil || snap.Type != wsproto.TypeSnapshot {
			return fail("snapshot: %v %+v", err, snap.Type)
		}
		wg.Go(func() {
			for {
				_, data, err := c.ReadMessage()
				now := time.Now()
				if err != nil {
					return
				}
				var m wsproto.Message
				var d struct {
					Agent *struct{ Extension, Status string }
				}
				if json.Unmarshal(data, &m) != nil || (m.Type != wsproto.TypeDelta && m.Type != wsproto.TypeError) {
					continue
				}
				if m.Type == wsproto.TypeError {
					mu.Lock()
					cut = append(cut, m.Code)
					mu.Unlock()
					return
				}
				if json.Unmarshal(m.Delta, &d) != nil || d.Agent == nil {
					continue
				}
				mu.Lock()
				if t0, ok := sentAt[d.Agent.Extension+"/"+d.Agent.Status]; ok {
					latency = append(latency, now.Sub(t0))
				}
				mu.Unlock()
			}
		})
	}

	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 8}}
	start := time.Now()
	tick := time.NewTicker(time.Second / time.Duration(rate))
	defer tick.Stop()
	for i := range changes {
		<-tick.C
		ext := strconv.Itoa(3000 + i%agents)
		st := "away"
		if (i/agents)%2 == 1 {
			st = "available"
		}
		body := `{"status":"` + st + `","reason":"break"}`
		if st == "available" {
			body = `{"status":"available"}`
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodPut, "http://"+addr+"/api/v1/agents/"+ext+"/status", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		mu.Lock()
		sentAt[ext+"/"+st] = time.Now()
		mu.Unlock()
		resp, err := client.Do(req)
		if err != nil {
			return fail("PUT status: %v", err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fail("PUT status of %s: %d", ext, resp.StatusCode)
		}
	}
	want := changes * sups
	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		n, c := len(latency), len(cut)
		mu.Unlock()
		if n >= want || c > 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	run := time.Since(start)
	mu.Lock()
	defer mu.Unlock()
	if len(cut) > 0 {
		return fail("%d supervisors were cut (%v)", len(cut), cut)
	}
	if len(latency) < want {
		return fail("%d of %d deliveries", len(latency), want)
	}
	slices.Sort(latency)
	msOf := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	return benchClientResult{P50Ms: msOf(latency[len(latency)/2]), P99Ms: msOf(latency[len(latency)*99/100]),
		MaxMs: msOf(latency[len(latency)-1]), Deliveries: len(latency), RunNanos: int64(run)}
}
