package cti_test

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ringbridge/ringbridge/cti"
	"github.com/ringbridge/ringbridge/cti/ctitest"
	"github.com/ringbridge/ringbridge/cti/queue"
	"github.com/ringbridge/ringbridge/cti/store/sqlite"
)

// BenchmarkQueueRouting measures the routing decision of queued calls:
// INVITE (InboundCall) to the first agent's phone ringing, with 2,000
// agents signed in across 20 queues of 100, 200 calls already waiting in
// the ten queues whose agents are all away, and new calls arriving at 50
// a second into the other ten, whose agents answer and hang up 200 ms
// later. It reports p50 and p99 of that latency, and the heap in use.
func BenchmarkQueueRouting(b *testing.B) {
	const (
		queues   = 20
		perQueue = 100
		waiting  = 200
		rate     = 50
	)
	ctx := context.Background()
	st, err := sqlite.Open(ctx, b.TempDir()+"/rb.db")
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	if err := st.CreateTenant(ctx, &cti.Tenant{ID: "demo", Name: "Demo"}); err != nil {
		b.Fatal(err)
	}
	numbers := map[string]cti.NumberRoute{}
	for q := range queues {
		numbers[fmt.Sprintf("1555000%04d", q)] = cti.NumberRoute{TenantID: "demo", Route: cti.RouteQueue, Queue: fmt.Sprintf("q%02d", q)}
	}
	svc := cti.New(cti.Config{Numbers: numbers, RingTimeout: time.Minute}, st, &ctitest.Media{}, nil)
	defer svc.Close()
	admin := cti.Principal{TenantID: "demo", Role: cti.RoleAdmin, UserID: "admin"}
	var (
		mu      sync.Mutex
		latency []time.Duration
		started = map[string]time.Time{}
	)
	for q := range queues {
		cfg := cti.QueueConfig{Name: fmt.Sprintf("q%02d", q), Strategy: queue.LongestIdle}
		for a := range perQueue {
			ext := fmt.Sprintf("%d%03d", 1+q, a)
			cfg.Members = append(cfg.Members, ext)
			u := &cti.User{TenantID: "demo", Username: "u" + ext, Extension: ext, Role: cti.RoleAgent, PasswordHash: "x"}
			if err := st.CreateUser(ctx, u); err != nil {
				b.Fatal(err)
			}
			ss, err := svc.Connect(ctx, cti.Principal{TenantID: "demo", UserID: u.ID, Username: u.Username, Extension: ext, Role: cti.RoleAgent}, false)
			if err != nil {
				b.Fatal(err)
			}
			if q < queues/2 {
				if err := ss.SetStatus(cti.StatusAway, "busy"); err != nil {
					b.Fatal(err)
				}
			}
			go func() { // the agent: answer at once, hang up after 200 ms
				for {
					var ev *cti.AgentEvent
					select {
					case ev = <-ss.Events():
					case <-ss.Done():
						return
					}
					if ev.Kind != cti.EventCall || ev.Call.State != cti.CallRinging {
						continue
					}
					mu.Lock()
					if t0, ok := started[ev.Call.SIPCallID]; ok {
						latency = append(latency, time.Since(t0))
						delete(started, ev.Call.SIPCallID)
					}
					mu.Unlock()
					id := ev.Call.ID
					go func() {
						_ = ss.Answer(id)
						time.Sleep(200 * time.Millisecond)
						_ = ss.Hangup(id)
					}()
				}
			}()
		}
		if _, err := svc.CreateQueue(ctx, admin, cfg); err != nil {
			b.Fatal(err)
		}
	}
	for i := range waiting {
		leg := ctitest.NewInboundLeg(fmt.Sprintf("wait-%d", i))
		if err := svc.InboundCall(ctx, cti.InboundCall{Trunk: "t", From: "15557654321", To: fmt.Sprintf("1555000%04d", i%(queues/2)), Leg: leg}); err != nil {
			b.Fatal(err)
		}
	}
	var ms runtime.MemStats
	var ru0, ru1 syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
	b.ResetTimer()
	tick := time.NewTicker(time.Second / rate)
	defer tick.Stop()
	for i := range b.N {
		<-tick.C
		id := fmt.Sprintf("new-%d", i)
		mu.Lock()
		started[id] = time.Now()
		mu.Unlock()
		leg := ctitest.NewInboundLeg(id)
		if err := svc.InboundCall(ctx, cti.InboundCall{Trunk: "t", From: "15557654321", To: fmt.Sprintf("1555000%04d", queues/2+i%(queues/2)), Leg: leg}); err != nil {
			b.Fatal(err)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		mu.Lock()
		n := len(latency)
		mu.Unlock()
		if n == b.N || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	b.StopTimer()
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
	runtime.ReadMemStats(&ms)
	cpu := time.Duration(ru1.Utime.Nano()+ru1.Stime.Nano()-ru0.Utime.Nano()-ru0.Stime.Nano()) * time.Nanosecond
	mu.Lock()
	defer mu.Unlock()
	if len(latency) < b.N {
		b.Fatalf("%d of %d calls rang an agent", len(latency), b.N)
	}
	slices.Sort(latency)
	b.ReportMetric(float64(latency[len(latency)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(latency[len(latency)*99/100].Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(ms.HeapInuse)/(1<<20), "heap-MiB")
	// The whole process (the service and the benchmark's 2,000 agents).
	b.ReportMetric(cpu.Seconds()/b.Elapsed().Seconds()*100, "cpu-%")
	b.ReportMetric(0, "ns/op")
}
