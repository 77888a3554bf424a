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
	"github.com/ringbridge/ringbridge/cti/store/sqlite"
)

// BenchmarkSupervisorFeed measures status-change delivery to supervisors:
// 2,000 agents signed in, 50 supervisors watching the tenant, status
// changes at 200 a second (an integration setting agents away and back);
// latency from the change to each supervisor's delta, p50 and p99, and
// the process's CPU and heap.
func BenchmarkSupervisorFeed(b *testing.B) {
	const (
		agents      = 2000
		supervisors = 50
		rate        = 200
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
	svc := cti.New(cti.Config{}, st, &ctitest.Media{}, nil)
	defer svc.Close()
	for i := range agents {
		ext := fmt.Sprintf("%04d", 1000+i)
		u := &cti.User{TenantID: "demo", Username: "u" + ext, Extension: ext, Role: cti.RoleAgent, PasswordHash: "x"}
		if err := st.CreateUser(ctx, u); err != nil {
			b.Fatal(err)
		}
		if _, err := svc.Connect(ctx, cti.Principal{TenantID: "demo", UserID: u.ID, Username: u.Username, Extension: ext, Role: cti.RoleAgent}, false); err != nil {
			b.Fatal(err)
		}
	}
	admin := cti.Principal{TenantID: "demo", Role: cti.RoleAdmin, UserID: "admin"}
	var (
		mu      sync.Mutex
		sentAt  = map[string]time.Time{} // "ext/status" → when it was set
		latency []time.Duration
		wg      sync.WaitGroup
	)
	stop := make(chan struct{})
	for range supervisors {
		w, _, err := svc.Watch(ctx, admin)
		if err != nil {
			b.Fatal(err)
		}
		wg.Go(func() {
			defer w.Close()
			for {
				select {
				case d := <-w.Deltas():
					if d.Agent == nil || d.Agent.Status == cti.StatusRinging {
						continue
					}
					now := time.Now()
					mu.Lock()
					if t0, ok := sentAt[d.Agent.Extension+"/"+string(d.Agent.Status)]; ok {
						latency = append(latency, now.Sub(t0))
					}
					mu.Unlock()
				case <-w.Done():
					b.Error("a supervisor was cut for falling behind")
					return
				case <-stop:
					return
				}
			}
		})
	}
	var ru0, ru1 syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
	b.ResetTimer()
	tick := time.NewTicker(time.Second / rate)
	for i := range b.N {
		<-tick.C
		ext := fmt.Sprintf("%04d", 1000+i%agents)
		st := cti.StatusAway
		if (i/agents)%2 == 1 {
			st = cti.StatusAvailable
		}
		mu.Lock()
		sentAt[ext+"/"+string(st)] = time.Now()
		mu.Unlock()
		if _, err := svc.SetAgentStatus(ctx, admin, ext, st, "break"); err != nil {
			b.Fatal(err)
		}
	}
	tick.Stop()
	deadline := time.Now().Add(5 * time.Second)
	for {
		mu.Lock()
		n := len(latency)
		mu.Unlock()
		if n >= b.N*supervisors || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	b.StopTimer()
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
	close(stop)
	wg.Wait()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	mu.Lock()
	defer mu.Unlock()
	if len(latency) < b.N*supervisors {
		b.Fatalf("%d of %d deliveries", len(latency), b.N*supervisors)
	}
	slices.Sort(latency)
	cpu := time.Duration(ru1.Utime.Nano() + ru1.Stime.Nano() - ru0.Utime.Nano() - ru0.Stime.Nano())
	b.ReportMetric(float64(latency[len(latency)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(latency[len(latency)*99/100].Microseconds())/1000, "p99-ms")
	b.ReportMetric(cpu.Seconds()/b.Elapsed().Seconds()*100, "cpu-%")
	b.ReportMetric(float64(ms.HeapInuse)/(1<<20), "heap-MiB")
	b.ReportMetric(0, "ns/op")
}
