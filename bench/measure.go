package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"
)

// clockTicks is USER_HZ, the unit of utime/stime in /proc/<pid>/stat.
var clockTicks = func() float64 {
	out, err := exec.Command("getconf", "CLK_TCK").Output()
	if err == nil {
		if v, err := strconv.Atoi(strings.TrimSpace(string(out))); err == nil && v > 0 {
			return float64(v)
		}
	}
	return 100
}()

// procSample is one reading of a process.
type procSample struct {
	At      time.Time
	CPU     float64 // utime+stime, seconds
	RSS     int64   // VmRSS, bytes
	RSSFile int64   // RssFile: file-backed pages (the binary's code and data, libraries)
	Threads int
}

// readProc reads /proc/<pid>/stat and /proc/<pid>/status ("self" works).
func readProc(pid string) (procSample, error) {
	s := procSample{At: time.Now()}
	b, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return s, err
	}
	// The command name may contain spaces; fields resume after the last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return s, fmt.Errorf("unexpected /proc/%s/stat", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return s, fmt.Errorf("short /proc/%s/stat", pid)
	}
	ut, _ := strconv.ParseFloat(f[11], 64) // field 14 of the full line
	st, _ := strconv.ParseFloat(f[12], 64) // field 15
	s.CPU = (ut + st) / clockTicks
	st2, err := os.ReadFile("/proc/" + pid + "/status")
	if err != nil {
		return s, err
	}
	sc := bufio.NewScanner(bytes.NewReader(st2))
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "VmRSS:"):
			s.RSS = statusBytes(line)
		case strings.HasPrefix(line, "RssFile:"):
			s.RSSFile = statusBytes(line)
		case strings.HasPrefix(line, "Threads:"):
			s.Threads, _ = strconv.Atoi(strings.Fields(line)[1])
		}
	}
	return s, nil
}

// statusBytes reads a "Name:  N kB" line of /proc/<pid>/status.
func statusBytes(line string) int64 {
	kb, _ := strconv.ParseInt(strings.Fields(line)[1], 10, 64)
	return kb << 10
}

// cpuTimes are the machine's CPU counters from /proc/stat, in seconds
// summed over all cores.
type cpuTimes struct {
	proc  float64 // user, nice, system: what processes account for
	irq   float64 // irq and softirq: the kernel's packet processing
	steal float64 // taken by the hypervisor
	total float64
}

func machineCPU() cpuTimes {
	var t cpuTimes
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return t
	}
	line, _, _ := strings.Cut(string(b), "\n")
	for i, v := range strings.Fields(line)[1:] {
		x, _ := strconv.ParseFloat(v, 64)
		x /= clockTicks
		switch i {
		case 0, 1, 2:
			t.proc += x
		case 5, 6:
			t.irq += x
		case 7:
			t.steal += x
		}
		if i < 8 { // guest time is already in user
			t.total += x
		}
	}
	return t
}

// usage is CPU consumed over an interval by the server, the load
// generator (this process) and the whole machine.
type usage struct {
	start, end           procSample
	genStart, genEnd     procSample
	m0, m1               cpuTimes
	peakRSS, peakThreads int64
	rssSum               float64
	rssN                 int
}

// sampler polls the server process once a second between Start and Stop,
// keeping the peak RSS and thread count.
type sampler struct {
	pid  string
	mu   sync.Mutex
	u    usage
	stop chan struct{}
	done chan struct{}
}

func startSampler(pid int) *sampler {
	s := &sampler{pid: strconv.Itoa(pid), stop: make(chan struct{}), done: make(chan struct{})}
	s.u.start, _ = readProc(s.pid)
	s.u.genStart, _ = readProc("self")
	s.u.m0 = machineCPU()
	s.observe(s.u.start)
	go func() {
		defer close(s.done)
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-s.stop:
				return
			case <-t.C:
				if p, err := readProc(s.pid); err == nil {
					s.observe(p)
				}
			}
		}
	}()
	return s
}

func (s *sampler) observe(p procSample) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.u.peakRSS = max(s.u.peakRSS, p.RSS)
	s.u.peakThreads = max(s.u.peakThreads, int64(p.Threads))
	s.u.rssSum += float64(p.RSS)
	s.u.rssN++
}

// Stop ends sampling and returns the interval's usage.
func (s *sampler) Stop() usage {
	close(s.stop)
	<-s.done
	end, _ := readProc(s.pid)
	s.observe(end)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.u.end = end
	s.u.genEnd, _ = readProc("self")
	s.u.m1 = machineCPU()
	return s.u
}

func (u usage) seconds() float64     { return u.end.At.Sub(u.start.At).Seconds() }
func (u usage) serverCPU() float64   { return u.end.CPU - u.start.CPU }
func (u usage) genCPU() float64      { return u.genEnd.CPU - u.genStart.CPU }
func (u usage) meanRSS() float64     { return u.rssSum / float64(max(u.rssN, 1)) }
func (u usage) serverCores() float64 { return u.serverCPU() / u.seconds() }
func (u usage) genCores() float64    { return u.genCPU() / u.seconds() }

// otherCores is what processes besides the server and us used.
func (u usage) otherCores() float64 {
	return max(0, (u.m1.proc-u.m0.proc)/u.seconds()-u.serverCores()-u.genCores())
}

// irqCores is the kernel's interrupt and softirq time (loopback packet
// delivery is mostly here, charged to no process).
func (u usage) irqCores() float64   { return (u.m1.irq - u.m0.irq) / u.seconds() }
func (u usage) stealCores() float64 { return (u.m1.steal - u.m0.steal) / u.seconds() }
func (u usage) idleCores() float64 {
	d := func(f func(c cpuTimes) float64) float64 { return f(u.m1) - f(u.m0) }
	return d(func(c cpuTimes) float64 { return c.total - c.proc - c.irq - c.steal }) / u.seconds()
}

// benchMetricsToken lets the bench scrape the server it started.
const benchMetricsToken = "ringbridge-bench-metrics-token"

// metricsSnapshot is what we read from the server's /metrics.
type metricsSnapshot struct {
	Goroutines, Threads       float64
	RTPRecv, RTPSent, RTPDrop float64
	ICEReads, ICEDatagrams    float64
	SIPLegs                   float64
	StoreCommits              float64
	// The Go runtime's own view of the memory (bytes): live heap spans,
	// goroutine stacks, heap held but idle, and of that what was given
	// back to the OS.
	HeapInuse, StackInuse, HeapIdle, HeapReleased float64
	// Allocated bytes and finished collections since the start.
	AllocBytes, GCs float64
}

func scrapeMetrics(ctx context.Context, base string) (metricsSnapshot, error) {
	var m metricsSnapshot
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+benchMetricsToken)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return m, err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		return m, err
	}
	want := map[string]*float64{
		"go_goroutines":                         &m.Goroutines,
		"go_threads":                            &m.Threads,
		"ringbridge_rtp_packets_received_total": &m.RTPRecv,
		"ringbridge_rtp_packets_sent_total":     &m.RTPSent,
		"ringbridge_rtp_packets_dropped_total":  &m.RTPDrop,
		"ringbridge_sip_legs":                   &m.SIPLegs,
		"ringbridge_store_commits_total":        &m.StoreCommits,
		"ringbridge_ice_udp_reads_total":        &m.ICEReads,
		"ringbridge_ice_udp_datagrams_total":    &m.ICEDatagrams,
		"go_memstats_heap_inuse_bytes":          &m.HeapInuse,
		"go_memstats_stack_inuse_bytes":         &m.StackInuse,
		"go_memstats_heap_idle_bytes":           &m.HeapIdle,
		"go_memstats_heap_released_bytes":       &m.HeapReleased,
		"go_memstats_alloc_bytes_total":         &m.AllocBytes,
		"go_gc_duration_seconds_count":          &m.GCs,
	}
	for line := range strings.SplitSeq(string(body), "\n") {
		name, val, ok := strings.Cut(line, " ")
		if !ok || strings.HasPrefix(line, "#") {
			continue
		}
		if p := want[name]; p != nil {
			*p, _ = strconv.ParseFloat(strings.TrimSpace(val), 64)
		}
	}
	return m, nil
}

// waitQuiet waits until processes other than this one and the server
// (pid, 0 for none) use less than a quarter of a core for two seconds, at
// most d. It returns the cores they used in the last sample.
func waitQuiet(ctx context.Context, d time.Duration, pid int) float64 {
	deadline := time.Now().Add(d)
	ours := func() float64 {
		g, _ := readProc("self")
		if pid == 0 {
			return g.CPU
		}
		s, _ := readProc(strconv.Itoa(pid))
		return g.CPU + s.CPU
	}
	for {
		o0, t0, m0 := ours(), time.Now(), machineCPU()
		sleepCtx(ctx, 2*time.Second)
		o1, t1, m1 := ours(), time.Now(), machineCPU()
		other := ((m1.proc - m0.proc) - (o1 - o0)) / t1.Sub(t0).Seconds()
		if other < 0.25 || time.Now().After(deadline) || ctx.Err() != nil {
			return max(other, 0)
		}
		logf("waiting for the machine to quieten: other processes use %.2f cores", other)
	}
}

// udpDrops returns the kernel's receive-buffer drop counter of every UDP
// socket (/proc/net/udp, "drops" column) by inode.
func udpDrops() map[uint64]int64 {
	out := map[uint64]int64{}
	for _, f := range []string{"/proc/net/udp", "/proc/net/udp6"} {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for i, line := range strings.Split(string(b), "\n") {
			fs := strings.Fields(line)
			if i == 0 || len(fs) < 13 {
				continue
			}
			inode, _ := strconv.ParseUint(fs[9], 10, 64)
			drops, _ := strconv.ParseInt(fs[12], 10, 64)
			out[inode] = drops
		}
	}
	return out
}

// socketsOf returns the inodes of the sockets a process holds.
func socketsOf(pid string) map[uint64]bool {
	out := map[uint64]bool{}
	dir := "/proc/" + pid + "/fd"
	ents, err := os.ReadDir(dir)
	if err != nil {
		return out
	}
	for _, e := range ents {
		l, err := os.Readlink(dir + "/" + e.Name())
		if err != nil || !strings.HasPrefix(l, "socket:[") {
			continue
		}
		if n, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimPrefix(l, "socket:["), "]"), 10, 64); err == nil {
			out[n] = true
		}
	}
	return out
}

// dropDelta sums how many more drops the sockets of pid show in after
// than in before.
func dropDelta(before, after map[uint64]int64, pid string) int64 {
	var n int64
	for inode := range socketsOf(pid) {
		if a, ok := after[inode]; ok {
			n += a - before[inode]
		}
	}
	return n
}
