package main

import (
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"strings"
	"text/tabwriter"
)

// levelResult is one N: a server with N agents holding N calls.
type levelResult struct {
	Calls          int     `json:"calls"`
	SignedIn       int     `json:"signedIn"`
	SignInFailures int     `json:"signInFailures"`
	LoginSeconds   float64 `json:"loginSeconds"`  // REST logins, two at a time
	SignInSeconds  float64 `json:"signInSeconds"` // websockets and PeerConnections, 16 at a time
	Established    int     `json:"established"`
	SetupFailures  int     `json:"setupFailures"`
	HangupFailures int     `json:"hangupFailures"`

	Setup          dist      `json:"setup"`          // dial sent → "active" event
	DialToAudio    dist      `json:"dialToAudio"`    // dial sent → first far-end frame at the agent
	DialToAudioNet dist      `json:"dialToAudioNet"` // same, minus the wait for the agent's next frame to echo
	WorstSetup     worstCall `json:"worstSetup"`
	// StoreCommitsPerCall is the server's database commits during the
	// ramp (dial to first audio of every call) per call: with SQLite each
	// is a WAL sync that setups may wait for.
	StoreCommitsPerCall float64 `json:"storeCommitsPerCall"`

	HoldSeconds      float64 `json:"holdSeconds"`
	CPUPerCallSecond float64 `json:"serverCpuSecondsPerCallSecond"`
	// CPURuns is every run's CPU per call-second with -repeat (the
	// reported run is the median's).
	CPURuns          []float64 `json:"serverCpuSecondsPerCallSecondRuns,omitempty"`
	ServerCores      float64   `json:"serverCores"`
	GeneratorCores   float64   `json:"generatorCores"`
	OtherCores       float64   `json:"otherProcessesCores"`
	KernelIRQCores   float64   `json:"kernelIrqCores"`
	StealCores       float64   `json:"stealCores"`
	IdleCores        float64   `json:"idleCores"`
	OtherCoresBefore float64   `json:"otherProcessesCoresBefore"`

	AgentFramesPerCallSecond float64 `json:"agentFramesPerCallSecond"` // nominal 50

	IdleServerCores         float64 `json:"idleServerCores"`
	IdleCPUPerSessionSecond float64 `json:"idleCpuSecondsPerSessionSecond"`

	RSSBaselineMiB     float64 `json:"rssBaselineMiB"`
	RSSSessionsMiB     float64 `json:"rssSessionsMiB"`
	RSSHoldMiB         float64 `json:"rssHoldMeanMiB"`
	RSSHoldPeakMiB     float64 `json:"rssHoldPeakMiB"`
	RSSPerSessionMiB   float64 `json:"rssPerSessionMiB"`
	RSSPerCallOnTopMiB float64 `json:"rssPerCallOnTopMiB"`
	// RSSFilePerCallMiB is the file-backed part of RSSPerCallTotalMiB:
	// pages of the binary first touched by the calls' code, a one-time
	// cost that is a large share at small N.
	RSSFilePerCallMiB  float64 `json:"rssFilePerCallMiB"`
	RSSPerCallTotalMiB float64 `json:"rssPerCallTotalMiB"`
	RSSAfterLoginsMiB  float64 `json:"rssAfterLoginsMiB"`
	// From the runtime's metrics at the end of the hold, over the baseline.
	HeapInusePerCallMiB float64 `json:"heapInusePerCallMiB"`
	StackPerCallMiB     float64 `json:"stackPerCallMiB"`
	HeapIdleHoldMiB     float64 `json:"heapIdleNotReleasedMiB"` // held by the heap, not in use, not returned
	RSSAfterCallsMiB    float64 `json:"rssAfterCallsMiB"`       // 5 s after the last hang-up, sessions still up
	HeapIdleAfterMiB    float64 `json:"heapIdleNotReleasedAfterCallsMiB"`
	HeapInuseAfterMiB   float64 `json:"heapInuseAfterCallsMiB"` // over the baseline

	ThreadsBaseline        int     `json:"threadsBaseline"`
	ThreadsSessions        int     `json:"threadsSessions"`
	ThreadsPeak            int     `json:"threadsPeak"`
	GoroutinesBaseline     float64 `json:"goroutinesBaseline"`
	GoroutinesSessions     float64 `json:"goroutinesSessions"`
	GoroutinesHold         float64 `json:"goroutinesHold"`
	GoroutinesPerCall      float64 `json:"goroutinesPerCall"`      // on top of the sessions
	GoroutinesPerCallTotal float64 `json:"goroutinesPerCallTotal"` // session and call
	GoroutinesAfterCalls   float64 `json:"goroutinesAfterCalls"`

	SentAgent       int64   `json:"framesSentByAgents"`
	RecvPeer        int64   `json:"framesReceivedByPeer"`
	SentPeer        int64   `json:"framesSentByPeer"`
	RecvAgent       int64   `json:"framesReceivedByAgents"`
	LossAgentToPeer float64 `json:"lossAgentToPeer"`
	LossPeerToAgent float64 `json:"lossPeerToAgent"`
	LossRoundTrip   float64 `json:"lossRoundTrip"`
	RTT             dist    `json:"rtt"` // agent → server → far end → server → agent, at the agent

	OneWayAgentToPeer dist `json:"oneWayAgentToPeer"`
	OneWayPeerToAgent dist `json:"oneWayPeerToAgent"`
	Probe             dist `json:"generatorLoopbackProbe"`

	ServerRTPInPerSec  float64 `json:"serverRtpInPerSec"`
	ServerRTPOutPerSec float64 `json:"serverRtpOutPerSec"`
	ServerRTPDropped   float64 `json:"serverRtpDropped"`
	// ICEDatagramsPerRead is how many datagrams each system call reading
	// the shared WebRTC socket returned on average during the hold (1: no
	// batching happened, 0: not reported).
	ICEDatagramsPerRead float64 `json:"iceDatagramsPerRead"`
	// AllocMiBPerSec and GCsPerMinute are the server's allocation rate
	// and collections over the hold: what the collector's target costs.
	AllocMiBPerSec float64 `json:"allocMiBPerSec"`
	GCsPerMinute   float64 `json:"gcsPerMinute"`

	// Receive-buffer overflows the kernel counted on each side's sockets
	// during the hold.
	KernelDropsServer    int64 `json:"kernelUdpDropsServer"`
	KernelDropsGenerator int64 `json:"kernelUdpDropsGenerator"`

	ServerAlive    bool     `json:"serverAlive"`
	ServerWarnings int      `json:"serverLogWarnings"`
	ServerErrors   int      `json:"serverLogErrors"`
	ServerLog      []string `json:"serverLogSample,omitempty"`
	Errors         []string `json:"errors,omitempty"`
}

// worstCall is the call with the longest setup of an N.
type worstCall struct {
	Agent         string  `json:"agent"`
	Call          string  `json:"call"`
	SetupMs       float64 `json:"setupMs"`
	DialToAudioMs float64 `json:"dialToAudioMs"`
	StartedAtS    float64 `json:"startedAtS"` // dial, seconds into the ramp
}

// rateResult is one step of the call-rate ramp.
type rateResult struct {
	Rate             float64  `json:"rate"`
	AchievedRate     float64  `json:"achievedRate"`
	Placed           int      `json:"placed"`
	Failed           int      `json:"failed"`
	Starved          int      `json:"starved"`
	Setup            dist     `json:"setup"`
	DialToAudio      dist     `json:"dialToAudio"`
	ServerCores      float64  `json:"serverCores"`
	GeneratorCores   float64  `json:"generatorCores"`
	OtherCores       float64  `json:"otherProcessesCores"`
	KernelIRQCores   float64  `json:"kernelIrqCores"`
	OtherCoresBefore float64  `json:"otherProcessesCoresBefore"`
	Errors           []string `json:"errors,omitempty"`
}

type results struct {
	Machine  machine       `json:"machine"`
	Hold     string        `json:"hold"`
	Pinning  string        `json:"pinning,omitempty"`
	Levels   []levelResult `json:"levels"`
	RateOn   int           `json:"rateTestAgents"`
	Rates    []rateResult  `json:"rates"`
	MaxRate  float64       `json:"maxRateSetupP99Under100ms"`
	Summary  []summaryRow  `json:"summary"`
	Failures []string      `json:"failures,omitempty"`
}

type machine struct {
	CPU       string `json:"cpu"`
	Cores     int    `json:"cores"`
	MemoryGiB int    `json:"memoryGiB"`
	Kernel    string `json:"kernel"`
	Go        string `json:"go"`
}

func describeMachine() machine {
	m := machine{Cores: runtime.NumCPU(), Go: runtime.Version()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		// Count the machine's processors, not the ones taskset left us.
		m.Cores = 0
		for line := range strings.SplitSeq(string(b), "\n") {
			k, v, _ := strings.Cut(line, ":")
			switch strings.TrimSpace(k) {
			case "processor":
				m.Cores++
			case "model name":
				m.CPU = strings.TrimSpace(v)
			}
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kb int
		fmt.Sscanf(strings.TrimPrefix(strings.SplitN(string(b), "\n", 2)[0], "MemTotal:"), "%d", &kb)
		m.MemoryGiB = (kb + 512*1024) >> 20
	}
	return m
}

// maxClean is the largest N whose loss stayed under 0.1% both ways.
func maxClean(levels []levelResult) int {
	best := 0
	for _, l := range levels {
		if l.SetupFailures == 0 && l.SignInFailures == 0 && l.ServerAlive && l.AgentFramesPerCallSecond > 48.5 &&
			l.LossRoundTrip < 0.001 && l.RTT.P99 < 50 {
			best = max(best, l.Calls)
		}
	}
	return best
}

func printReport(w io.Writer, res *results) {
	m := res.Machine
	fmt.Fprintf(w, "\nringbridge load benchmark — %s, %d cores, %d GiB, Linux %s, %s; hold %s\n",
		m.CPU, m.Cores, m.MemoryGiB, m.Kernel, m.Go, res.Hold)
	if res.Pinning != "" {
		fmt.Fprintln(w, res.Pinning)
	} else {
		fmt.Fprintln(w, "server and load generator share the same cores")
	}

	fmt.Fprintln(w, "\nPer N (calls held concurrently)")
	row := func(name string, f func(l levelResult) string) {
		fmt.Fprintf(w, "  %-30s", name)
		for _, l := range res.Levels {
			fmt.Fprintf(w, "%22s", f(l))
		}
		fmt.Fprintln(w)
	}
	row("N", func(l levelResult) string { return fmt.Sprint(l.Calls) })
	row("agents signed in", func(l levelResult) string { return fmt.Sprint(l.SignedIn) })
	row("  logins / sessions up (s)", func(l levelResult) string { return fmt.Sprintf("%.1f/%.1f", l.LoginSeconds, l.SignInSeconds) })
	row("calls established", func(l levelResult) string { return fmt.Sprint(l.Established) })
	row("setup p50/p90/p99/max ms", func(l levelResult) string {
		return fmt.Sprintf("%.1f/%.1f/%.1f/%.0f", l.Setup.P50, l.Setup.P90, l.Setup.P99, l.Setup.Max)
	})
	row("  worst call: at s, to audio ms", func(l levelResult) string {
		return fmt.Sprintf("%.1f, %.0f", l.WorstSetup.StartedAtS, l.WorstSetup.DialToAudioMs)
	})
	row("store commits per call setup", func(l levelResult) string { return fmt.Sprintf("%.2f", l.StoreCommitsPerCall) })
	row("dial→audio p50/p99 ms", func(l levelResult) string { return fmt.Sprintf("%.1f/%.1f", l.DialToAudio.P50, l.DialToAudio.P99) })
	row("  minus wait for next frame", func(l levelResult) string {
		return fmt.Sprintf("%.1f/%.1f", l.DialToAudioNet.P50, l.DialToAudioNet.P99)
	})
	row("server CPU-s/call-s", func(l levelResult) string { return fmt.Sprintf("%.5f", l.CPUPerCallSecond) })
	row("  runs (-repeat)", func(l levelResult) string {
		if len(l.CPURuns) == 0 {
			return "1"
		}
		return fmt.Sprintf("%d: %.5f-%.5f", len(l.CPURuns), slices.Min(l.CPURuns), slices.Max(l.CPURuns))
	})
	row("server cores (hold)", func(l levelResult) string { return fmt.Sprintf("%.2f", l.ServerCores) })
	row("generator cores (hold)", func(l levelResult) string { return fmt.Sprintf("%.2f", l.GeneratorCores) })
	row("kernel irq+softirq (cores)", func(l levelResult) string { return fmt.Sprintf("%.2f", l.KernelIRQCores) })
	row("other processes (cores)", func(l levelResult) string { return fmt.Sprintf("%.2f", l.OtherCores) })
	row("steal / idle (cores)", func(l levelResult) string { return fmt.Sprintf("%.2f/%.2f", l.StealCores, l.IdleCores) })
	row("agent frames/s per call (50)", func(l levelResult) string { return fmt.Sprintf("%.1f", l.AgentFramesPerCallSecond) })
	row("idle CPU-s/session-s", func(l levelResult) string { return fmt.Sprintf("%.5f", l.IdleCPUPerSessionSecond) })
	row("RSS base/sessions/hold MiB", func(l levelResult) string {
		return fmt.Sprintf("%.0f/%.0f/%.0f", l.RSSBaselineMiB, l.RSSSessionsMiB, l.RSSHoldMiB)
	})
	row("RSS after logins/calls MiB", func(l levelResult) string {
		return fmt.Sprintf("%.0f/%.0f", l.RSSAfterLoginsMiB, l.RSSAfterCallsMiB)
	})
	row("RSS MiB per call (total)", func(l levelResult) string { return fmt.Sprintf("%.3f", l.RSSPerCallTotalMiB) })
	row("  of it file-backed (binary)", func(l levelResult) string { return fmt.Sprintf("%.3f", l.RSSFilePerCallMiB) })
	row("  heap in use / stacks", func(l levelResult) string {
		return fmt.Sprintf("%.3f/%.3f", l.HeapInusePerCallMiB, l.StackPerCallMiB)
	})
	row("heap idle, not returned MiB", func(l levelResult) string { return fmt.Sprintf("%.0f", l.HeapIdleHoldMiB) })
	row("  per session", func(l levelResult) string { return fmt.Sprintf("%.3f", l.RSSPerSessionMiB) })
	row("  per call on top", func(l levelResult) string { return fmt.Sprintf("%.3f", l.RSSPerCallOnTopMiB) })
	row("threads base/sessions/peak", func(l levelResult) string {
		return fmt.Sprintf("%d/%d/%d", l.ThreadsBaseline, l.ThreadsSessions, l.ThreadsPeak)
	})
	row("goroutines per call total/on top", func(l levelResult) string {
		return fmt.Sprintf("%.1f/%.1f", l.GoroutinesPerCallTotal, l.GoroutinesPerCall)
	})
	row("goroutines base/after calls", func(l levelResult) string {
		return fmt.Sprintf("%.0f/%.0f", l.GoroutinesBaseline, l.GoroutinesAfterCalls)
	})
	row("loss agent→peer", func(l levelResult) string { return fmt.Sprintf("%.4f%%", 100*l.LossAgentToPeer) })
	row("loss peer→agent", func(l levelResult) string { return fmt.Sprintf("%.4f%%", 100*l.LossPeerToAgent) })
	row("loss round trip", func(l levelResult) string { return fmt.Sprintf("%.4f%%", 100*l.LossRoundTrip) })
	row("RTT p50/p99/max ms", func(l levelResult) string {
		return fmt.Sprintf("%.2f/%.2f/%.0f", l.RTT.P50, l.RTT.P99, l.RTT.Max)
	})
	row("one-way a→p p50/p99 ms", func(l levelResult) string {
		return fmt.Sprintf("%.2f/%.2f", l.OneWayAgentToPeer.P50, l.OneWayAgentToPeer.P99)
	})
	row("one-way p→a p50/p99 ms", func(l levelResult) string {
		return fmt.Sprintf("%.2f/%.2f", l.OneWayPeerToAgent.P50, l.OneWayPeerToAgent.P99)
	})
	row("generator probe p50/p99 ms", func(l levelResult) string { return fmt.Sprintf("%.2f/%.2f", l.Probe.P50, l.Probe.P99) })
	row("server RTP in/out per s", func(l levelResult) string {
		return fmt.Sprintf("%.0f/%.0f", l.ServerRTPInPerSec, l.ServerRTPOutPerSec)
	})
	row("ICE socket datagrams per read", func(l levelResult) string { return fmt.Sprintf("%.2f", l.ICEDatagramsPerRead) })
	row("allocated MiB/s, collections/min", func(l levelResult) string {
		return fmt.Sprintf("%.2f, %.1f", l.AllocMiBPerSec, l.GCsPerMinute)
	})
	row("kernel UDP drops srv/gen", func(l levelResult) string {
		return fmt.Sprintf("%d/%d", l.KernelDropsServer, l.KernelDropsGenerator)
	})
	row("after calls: heap in use / idle not returned MiB", func(l levelResult) string {
		return fmt.Sprintf("%.0f/%.0f", l.HeapInuseAfterMiB, l.HeapIdleAfterMiB)
	})
	row("server log warn/error", func(l levelResult) string { return fmt.Sprintf("%d/%d", l.ServerWarnings, l.ServerErrors) })

	if len(res.Rates) > 0 {
		fmt.Fprintf(w, "\nNew calls per second (%d agents signed in, short calls)\n", res.RateOn)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "rate/s\tachieved\tplaced\tfailed\tstarved\tsetup p50\tp99\tmax ms\tdial→audio p99\tserver cores\tgenerator\tkernel irq\tother\t")
		for _, r := range res.Rates {
			fmt.Fprintf(tw, "%g\t%.1f\t%d\t%d\t%d\t%.1f\t%.1f\t%.1f\t%.1f\t%.2f\t%.2f\t%.2f\t%.2f\t\n", r.Rate, r.AchievedRate, r.Placed, r.Failed,
				r.Starved, r.Setup.P50, r.Setup.P99, r.Setup.Max, r.DialToAudio.P99, r.ServerCores, r.GeneratorCores, r.KernelIRQCores, r.OtherCores)
		}
		tw.Flush()
	}

	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	var ns []string
	for _, l := range res.Levels {
		ns = append(ns, fmt.Sprint(l.Calls))
	}
	fmt.Fprintf(tw, "\nSummary (per N: %s)\tringbridge\tKamailio+rtpengine 50 / 200 (Janus)\ttarget\tmet\n", strings.Join(ns, " / "))
	for _, r := range res.Summary {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.Figure, r.Value, r.Janus, r.Target, r.Met)
	}
	tw.Flush()
	fmt.Fprintln(w, "\nRTT is agent → server → far end (echoes at once) → server → agent, at the agent: two relays, four loopback")
	fmt.Fprintln(w, "hops and the generator's own scheduling; the probe line is the generator's loopback latency without the server.")
	for _, l := range res.Levels {
		if l.OtherCores > 0.25 {
			fmt.Fprintf(w, "WARNING: N=%d: other processes used %.2f cores during the hold; delays and loss are not the server's alone\n", l.Calls, l.OtherCores)
		}
		if l.Established > 0 && l.AgentFramesPerCallSecond < 48.5 {
			fmt.Fprintf(w, "WARNING: N=%d: agents sent only %.1f of 50 frames/s: the generator was starved, the load was lighter than N calls\n",
				l.Calls, l.AgentFramesPerCallSecond)
		}
	}
	for _, r := range res.Rates {
		if r.OtherCores > 0.25 {
			fmt.Fprintf(w, "WARNING: rate %g: other processes used %.2f cores\n", r.Rate, r.OtherCores)
		}
	}
	for _, f := range res.Failures {
		fmt.Fprintln(w, "failure:", f)
	}
	for _, l := range res.Levels {
		for _, e := range l.Errors {
			fmt.Fprintf(w, "N=%d error: %s\n", l.Calls, e)
		}
		for _, e := range l.ServerLog {
			fmt.Fprintf(w, "N=%d server log: %s\n", l.Calls, e)
		}
	}
	for _, r := range res.Rates {
		for _, e := range r.Errors {
			fmt.Fprintf(w, "rate %g error: %s\n", r.Rate, e)
		}
	}
}

// summaryRow is one of the figures next to Janus and the target.
type summaryRow struct {
	Figure string `json:"figure"`
	Value  string `json:"ringbridge"`
	Janus  string `json:"janus"`
	Target string `json:"target"`
	Met    string `json:"met"`
}

// summarize fills res.Summary. Figures measured per N show every N's
// value ("a / b / c") and whether each met the target.
func summarize(res *results) {
	var ls []levelResult
	for _, l := range res.Levels {
		if l.Established > 0 {
			ls = append(ls, l)
		}
	}
	yes := func(b bool) string {
		if b {
			return "yes"
		}
		return "NO"
	}
	perN := func(format string, f func(l levelResult) float64, pass func(v float64) bool) (string, string) {
		var vs, ms []string
		for _, l := range ls {
			v := f(l)
			vs = append(vs, fmt.Sprintf(format, v))
			if pass != nil {
				ms = append(ms, yes(pass(v)))
			}
		}
		return strings.Join(vs, " / "), strings.Join(ms, " / ")
	}
	add := func(fig, janus, target string, v, met string) {
		res.Summary = append(res.Summary, summaryRow{fig, v, janus, target, met})
	}
	// Comparison figures and targets are issue #16's (same harness, same
	// machine): Kamailio + rtpengine (userspace) at 50 / 200, Janus at 200.
	v, m := perN("%.5f", func(l levelResult) float64 { return l.CPUPerCallSecond }, func(v float64) bool { return v <= 0.002 })
	add("server CPU-s per call-s", "0.0029 / 0.0023 (J 0.0056)", "<= 0.002", v, m)
	v, m = perN("%.3f MiB", func(l levelResult) float64 { return l.RSSPerCallTotalMiB }, func(v float64) bool { return v <= 0.19 })
	add("server RSS per call (incl. session)", "0.35 / 0.27 (J 0.38)", "<= 0.19 MiB", v, m)
	// Memory per call: the slope of the hold RSS from the smallest to the
	// largest N cancels fixed costs (runtime, argon2's buffers).
	if n := len(ls); n > 1 && ls[n-1].Established > ls[0].Established {
		a, b := ls[0], ls[n-1]
		rss := (b.RSSHoldMiB - a.RSSHoldMiB) / float64(b.Established-a.Established)
		add(fmt.Sprintf("  slope N=%d→%d", a.Calls, b.Calls), "", "<= 0.19 MiB", fmt.Sprintf("%.3f MiB", rss), yes(rss <= 0.19))
	}
	v, m = perN("%.1f", func(l levelResult) float64 { return l.GoroutinesPerCallTotal }, func(v float64) bool { return v <= 4 })
	add("goroutines per call (incl. session)", "-", "<= 4", v, m)
	v, m = perN("%.0f MiB", func(l levelResult) float64 { return l.HeapIdleAfterMiB }, func(v float64) bool { return v <= 5 })
	add("heap not returned 5 s after calls end", "", "returned", v, m)
	v, _ = perN("%.0f MiB", func(l levelResult) float64 { return l.RSSAfterCallsMiB - l.RSSSessionsMiB }, func(float64) bool { return true })
	add("  RSS then over the sessions-only level", "", "", v, "")
	// Threads are judged at the largest N: the runtime's handful of
	// threads would look like "per call" at a small N.
	if n := len(ls); n > 0 {
		l := ls[n-1]
		g := float64(l.ThreadsPeak-l.ThreadsBaseline) / float64(l.Established)
		add(fmt.Sprintf("threads added per call (N=%d: %d→%d)", l.Calls, l.ThreadsBaseline, l.ThreadsPeak), "", "no thread per call",
			fmt.Sprintf("%.3f", g), yes(g < 0.05))
	}
	clean := maxClean(res.Levels)
	add("most calls held, loss < 0.1%, RTT p99 < 50 ms", "(J 200)", "500", fmt.Sprint(clean), yes(clean >= 500))
	v, m = perN("%.3f", func(l levelResult) float64 { return 100 * l.LossRoundTrip }, func(v float64) bool { return v < 0.1 })
	add("  loss, % (round trip)", "0 / 0", "< 0.1", v, m)
	v, m = perN("%.1f", func(l levelResult) float64 { return l.RTT.P99 }, func(v float64) bool { return v < 50 })
	add("  RTT p99, ms", "0.9 / 4.8 (J 353)", "< 50", v, m)
	v, _ = perN("%.2f", func(l levelResult) float64 { return l.Probe.P99 }, nil)
	add("  generator's own loopback p99, ms", "", "", v, "")
	v, m = perN("%.1f", func(l levelResult) float64 { return l.Setup.P99 }, func(v float64) bool { return v < 30 })
	add("call setup p99, ms (dial→active)", "", "< 30", v, m)
	v, m = perN("%.0f", func(l levelResult) float64 { return l.Setup.Max }, func(v float64) bool { return v < 1000 })
	add("  worst call's setup, ms", "", "no 1 s outlier", v, m)
	v, _ = perN("%.1f", func(l levelResult) float64 { return l.DialToAudioNet.P99 }, nil)
	add("dial→first echo p99, ms (minus next-frame wait)", "", "", v, "")
	add("new calls/s with setup p99 < 100 ms", "~10", "100", fmt.Sprint(res.MaxRate), yes(res.MaxRate >= 100))
}
