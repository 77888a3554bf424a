package main

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ringbridge/ringbridge/media/peer"
)

// env is everything shared by the runs.
type env struct {
	cfg  config
	tmp  string
	bin  string
	hash string
	win  *window
	peer *sipPeer
	capi *peer.ClientAPI
}

// level is one server process with its signed-in agents.
type level struct {
	srv    *server
	agents []*agent
}

func (l *level) close() {
	var wg sync.WaitGroup
	for _, a := range l.agents {
		wg.Add(1)
		go func() { defer wg.Done(); a.close() }()
	}
	wg.Wait()
	if l.srv != nil {
		l.srv.stop()
	}
}

const mib = 1 << 20

// runLevel starts a fresh server, signs n agents in, holds n calls for
// the hold time and measures. The caller closes the returned level.
func (e *env) runLevel(ctx context.Context, n int) (*level, levelResult, error) {
	r := levelResult{Calls: n}
	e.peer.reset()
	dir, err := os.MkdirTemp(e.tmp, fmt.Sprintf("n%d-", n))
	if err != nil {
		return nil, r, err
	}
	ss, err := prepareServer(ctx, e.bin, dir, n, e.hash, e.peer.addr())
	if err != nil {
		return nil, r, err
	}
	ss.cpus = e.cfg.serverCPUs
	ss.pprof = e.cfg.pprofDir != ""
	ss.env = e.cfg.serverEnv
	var failed atomic.Int64
	var errMu sync.Mutex
	fail := func(what string, err error) {
		failed.Add(1)
		errMu.Lock()
		r.Errors = appendErr(r.Errors, what+": "+err.Error())
		errMu.Unlock()
	}

	r.OtherCoresBefore = waitQuiet(ctx, e.cfg.quietWait, 0)
	srv, err := ss.start(ctx)
	if err != nil {
		return nil, r, err
	}
	lv := &level{srv: srv}
	pid := fmt.Sprint(srv.pid)
	logf("N=%d: server pid %d at %s", n, srv.pid, srv.base)
	sleepCtx(ctx, 2*time.Second)
	base, _ := readProc(pid)
	m0, _ := scrapeMetrics(ctx, srv.base)
	r.RSSBaselineMiB, r.ThreadsBaseline, r.GoroutinesBaseline = float64(base.RSS)/mib, base.Threads, m0.Goroutines
	if e.cfg.pprofDir != "" {
		if err := srv.baseProfile(ctx, e.cfg.pprofDir, n); err != nil {
			logf("N=%d: base profile: %v", n, err)
		}
	}

	// Every agent signs in over REST to the measured process, as at the
	// start of a shift, a couple at a time. Each login is an argon2id
	// verification that allocates ~19 MiB; that garbage, and whatever
	// the heap keeps of it, is part of what a deployment carries.
	t0 := time.Now()
	tokens := make([]string, n)
	parallel(n, 2, func(i int) {
		tok, err := login(ctx, srv.base, fmt.Sprint(firstExt+i), e.cfg.password)
		if err != nil {
			fail("login", err)
			return
		}
		tokens[i] = tok
	})
	r.LoginSeconds = time.Since(t0).Seconds()
	afterLogin, _ := readProc(pid)
	r.RSSAfterLoginsMiB = float64(afterLogin.RSS) / mib

	// Open the sessions: websocket, auth, offer/answer, ICE and DTLS.
	t0 = time.Now()
	agents := make([]*agent, n)
	parallel(n, 16, func(i int) {
		if tokens[i] == "" {
			return
		}
		a, err := connectAgent(ctx, srv.base, e.capi, i, tokens[i], e.win)
		if err != nil {
			fail("sign-in", err)
			return
		}
		agents[i] = a
	})
	for _, a := range agents {
		if a != nil {
			lv.agents = append(lv.agents, a)
		}
	}
	r.SignedIn, r.SignInFailures, r.SignInSeconds = len(lv.agents), int(failed.Load()), time.Since(t0).Seconds()
	logf("N=%d: %d logins in %.1fs, %d sessions up in %.1fs (%d failed)", n, n-int(failed.Load()), r.LoginSeconds,
		r.SignedIn, r.SignInSeconds, r.SignInFailures)
	if ctx.Err() != nil || len(lv.agents) == 0 {
		return lv, r, fmt.Errorf("no agents signed in: %v", r.Errors)
	}

	// Idle: sessions up, no calls; the agents send only RTCP.
	time.Sleep(2 * time.Second)
	idle := startSampler(srv.pid)
	sleepCtx(ctx, e.cfg.idle)
	iu := idle.Stop()
	m1, _ := scrapeMetrics(ctx, srv.base)
	r.IdleServerCores = iu.serverCores()
	r.IdleCPUPerSessionSecond = iu.serverCPU() / (iu.seconds() * float64(len(lv.agents)))
	r.RSSSessionsMiB, r.ThreadsSessions, r.GoroutinesSessions = iu.meanRSS()/mib, iu.end.Threads, m1.Goroutines

	// Ramp the calls up at a steady pace.
	var setup, toAudio, toAudioNet samples
	var worstMu sync.Mutex
	var live []liveCall
	var lmu sync.Mutex
	var wg sync.WaitGroup
	mr0, _ := scrapeMetrics(ctx, srv.base)
	t0 = time.Now()
	for i, a := range lv.agents {
		at := t0.Add(time.Duration(float64(i) / e.cfg.rampRate * float64(time.Second)))
		sleepCtx(ctx, time.Until(at))
		wg.Add(1)
		go func() {
			defer wg.Done()
			cr := a.dial(ctx)
			lmu.Lock()
			defer lmu.Unlock()
			if cr.id != "" {
				live = append(live, liveCall{a, cr.id})
			}
			if cr.err != nil {
				r.SetupFailures++
				r.Errors = appendErr(r.Errors, "call: "+cr.err.Error())
				return
			}
			setup.add(cr.setup)
			worstMu.Lock()
			if cr.setup > time.Duration(r.WorstSetup.SetupMs*float64(time.Millisecond)) {
				r.WorstSetup = worstCall{Agent: a.ext, Call: cr.id, SetupMs: float64(cr.setup) / float64(time.Millisecond),
					DialToAudioMs: float64(cr.firstAudio) / float64(time.Millisecond), StartedAtS: time.Since(t0).Seconds()}
			}
			worstMu.Unlock()
			toAudio.add(cr.firstAudio)
			if w, ok := e.peer.farEndWait(a.ext); ok {
				toAudioNet.add(cr.firstAudio - w)
			}
		}()
	}
	wg.Wait()
	if mr1, err := scrapeMetrics(ctx, srv.base); err == nil && len(lv.agents) > 0 {
		r.StoreCommitsPerCall = (mr1.StoreCommits - mr0.StoreCommits) / float64(len(lv.agents))
	}
	r.Established = len(lv.agents) - r.SetupFailures
	r.Setup, r.DialToAudio, r.DialToAudioNet = setup.dist(), toAudio.dist(), toAudioNet.dist()
	logf("N=%d: %d calls up (%d failed); setup p50 %.1f ms p99 %.1f ms max %.1f ms; %.2f store commits per call",
		n, r.Established, r.SetupFailures, r.Setup.P50, r.Setup.P99, r.Setup.Max, r.StoreCommitsPerCall)

	// Hold. Loss and delay count frames sent inside the window, which
	// leaves out the first and the last second.
	hold := e.cfg.hold
	start := time.Now()
	e.win.set(start.Add(time.Second), start.Add(hold-time.Second))
	prb, perr := runProbe(ctx, 8, hold)
	mh0, _ := scrapeMetrics(ctx, srv.base)
	drops0 := udpDrops()
	s := startSampler(srv.pid)
	var peakGoroutines float64
	var memHold metricsSnapshot // the last scrape of the hold
	if e.cfg.pprofDir != "" {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Halfway through, so the profile sees every call up.
			sleepCtx(ctx, hold/2-5*time.Second)
			if err := srv.profiles(ctx, e.cfg.pprofDir, n); err != nil {
				logf("N=%d: profiles: %v", n, err)
			}
		}()
	}
	for time.Since(start) < hold && ctx.Err() == nil && srv.alive() {
		sleepCtx(ctx, min(5*time.Second, hold-time.Since(start)))
		if m, err := scrapeMetrics(ctx, srv.base); err == nil {
			peakGoroutines = max(peakGoroutines, m.Goroutines)
			memHold = m
		}
	}
	u := s.Stop()
	wg.Wait() // the profiles
	drops1 := udpDrops()
	r.KernelDropsServer, r.KernelDropsGenerator = dropDelta(drops0, drops1, pid), dropDelta(drops0, drops1, "self")
	mh1, _ := scrapeMetrics(ctx, srv.base)
	r.ServerAlive = srv.alive()
	r.HoldSeconds = u.seconds()
	r.ServerCores, r.GeneratorCores, r.OtherCores = u.serverCores(), u.genCores(), u.otherCores()
	r.KernelIRQCores, r.StealCores, r.IdleCores = u.irqCores(), u.stealCores(), u.idleCores()
	if r.Established > 0 {
		r.CPUPerCallSecond = u.serverCPU() / (u.seconds() * float64(r.Established))
		r.RSSPerCallTotalMiB = (u.meanRSS()/mib - r.RSSBaselineMiB) / float64(r.Established)
		r.RSSPerCallOnTopMiB = (u.meanRSS()/mib - r.RSSSessionsMiB) / float64(r.Established)
		r.RSSFilePerCallMiB = float64(u.end.RSSFile-base.RSSFile) / mib / float64(r.Established)
		r.GoroutinesPerCall = (peakGoroutines - r.GoroutinesSessions) / float64(r.Established)
		r.GoroutinesPerCallTotal = (peakGoroutines - r.GoroutinesBaseline) / float64(r.Established)
		per := func(v, v0 float64) float64 { return (v - v0) / mib / float64(r.Established) }
		r.HeapInusePerCallMiB = per(memHold.HeapInuse, m0.HeapInuse)
		r.StackPerCallMiB = per(memHold.StackInuse, m0.StackInuse)
		r.HeapIdleHoldMiB = (memHold.HeapIdle - memHold.HeapReleased) / mib
	}
	r.RSSPerSessionMiB = (r.RSSSessionsMiB - r.RSSBaselineMiB) / float64(len(lv.agents))
	r.RSSHoldMiB, r.RSSHoldPeakMiB = u.meanRSS()/mib, float64(u.peakRSS)/mib
	r.ThreadsPeak, r.GoroutinesHold = int(u.peakThreads), peakGoroutines
	if d := mh1; d.RTPRecv > 0 {
		secs := u.seconds()
		r.ServerRTPInPerSec = (d.RTPRecv - mh0.RTPRecv) / secs
		r.ServerRTPOutPerSec = (d.RTPSent - mh0.RTPSent) / secs
		r.ServerRTPDropped = d.RTPDrop - mh0.RTPDrop
		if reads := d.ICEReads - mh0.ICEReads; reads > 0 {
			r.ICEDatagramsPerRead = (d.ICEDatagrams - mh0.ICEDatagrams) / reads
		}
		r.AllocMiBPerSec = (d.AllocBytes - mh0.AllocBytes) / mib / secs
		r.GCsPerMinute = (d.GCs - mh0.GCs) * 60 / secs
	}
	if perr == nil {
		<-prb.done
		r.Probe = prb.delays.dist()
	}

	// Hang up, then collect what both ends counted.
	t0 = time.Now()
	for _, lc := range live {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := lc.a.hangup(ctx, lc.id); err != nil {
				lmu.Lock()
				r.HangupFailures++
				r.Errors = appendErr(r.Errors, "hangup: "+err.Error())
				lmu.Unlock()
			}
		}()
	}
	wg.Wait()
	e.win.clear()
	for e.peer.active.Load() > 0 && time.Since(t0) < 10*time.Second {
		time.Sleep(50 * time.Millisecond)
	}
	// What the process keeps once the calls are over (the sessions stay).
	sleepCtx(ctx, 5*time.Second)
	if after, err := readProc(pid); err == nil {
		r.RSSAfterCallsMiB = float64(after.RSS) / mib
	}
	if m, err := scrapeMetrics(ctx, srv.base); err == nil {
		r.GoroutinesAfterCalls = m.Goroutines
		r.HeapIdleAfterMiB = (m.HeapIdle - m.HeapReleased) / mib
		r.HeapInuseAfterMiB = (m.HeapInuse - m0.HeapInuse) / mib
	}
	var p2a, rtt samples
	for _, a := range lv.agents {
		sent, recv, d, rt := a.takeStats()
		r.SentAgent += sent
		r.RecvAgent += recv
		p2a.addAll(d)
		rtt.addAll(rt)
	}
	r.SentPeer, r.RecvPeer = e.peer.sent.Load(), e.peer.recv.Load()
	if r.Established > 0 {
		// Frames each agent really sent per second of the window: below the
		// nominal 50 the generator could not keep up and the load offered
		// was smaller than N calls.
		r.AgentFramesPerCallSecond = float64(r.SentAgent) / ((hold - 2*time.Second).Seconds() * float64(r.Established))
	}
	r.LossAgentToPeer = lossRatio(r.SentAgent, r.RecvPeer)
	r.LossPeerToAgent = lossRatio(r.SentPeer, r.RecvAgent)
	r.OneWayAgentToPeer, r.OneWayPeerToAgent, r.RTT = e.peer.delay.dist(), p2a.dist(), rtt.dist()
	r.LossRoundTrip = lossRatio(r.SentAgent, r.RecvAgent)
	r.ServerWarnings, r.ServerErrors, r.ServerLog = srv.logSummary()
	logf("N=%d: loss round trip %.4f%%, RTT p50/p99 %.2f/%.2f ms, server %.3f cores, generator %.2f cores, %.3f MiB and %.1f goroutines per call",
		n, 100*r.LossRoundTrip, r.RTT.P50, r.RTT.P99, r.ServerCores, r.GeneratorCores, r.RSSPerCallTotalMiB, r.GoroutinesPerCall)
	return lv, r, nil
}

type liveCall struct {
	a  *agent
	id string
}

func lossRatio(sent, recv int64) float64 {
	if sent <= 0 {
		return 0
	}
	return max(0, 1-float64(recv)/float64(sent))
}

// contended is how much other processes disturbed a measurement.
const contended = 0.25 // cores

// bestLevel runs N up to 1+retries times while other processes disturb
// it and keeps the least disturbed run (open, for the rate ramp).
func (e *env) bestLevel(ctx context.Context, n int) (*level, levelResult, error) {
	lv, r, err := e.runLevel(ctx, n)
	for try := 1; try <= e.cfg.retries && err == nil && r.OtherCores > contended && ctx.Err() == nil; try++ {
		logf("N=%d: other processes used %.2f cores; running it again (%d/%d)", n, r.OtherCores, try, e.cfg.retries)
		lv.close()
		lv2, r2, err2 := e.runLevel(ctx, n)
		if err2 != nil {
			// Report the first run; without an open level there is no ramp.
			logf("N=%d: the repeat failed: %v", n, err2)
			if lv2 != nil {
				lv2.close()
			}
			return nil, r, nil
		}
		if r2.OtherCores < r.OtherCores {
			lv, r = lv2, r2
		} else {
			// Keep the earlier figures but the new, open level for the ramp.
			lv = lv2
		}
	}
	return lv, r, err
}

// medianLevel runs N cfg.repeat times and reports the run whose CPU per
// call-second is the median, with every run's figure beside it; a single
// run's CPU varies by some ±7 % on a shared machine, more than most
// changes it is meant to judge. The last run stays open for the ramp.
func (e *env) medianLevel(ctx context.Context, n int) (*level, levelResult, error) {
	lv, r, err := e.bestLevel(ctx, n)
	runs := []levelResult{r}
	for i := 1; i < e.cfg.repeat && err == nil && ctx.Err() == nil; i++ {
		logf("N=%d: run %d of %d: %.5f CPU-s per call-s", n, i, e.cfg.repeat, r.CPUPerCallSecond)
		lv.close()
		lv, r, err = e.bestLevel(ctx, n)
		if err != nil {
			// Report the runs that finished; without an open level there is no ramp.
			logf("N=%d: run %d of %d failed: %v", n, i+1, e.cfg.repeat, err)
			if lv != nil {
				lv.close()
			}
			lv, err = nil, nil
			break
		}
		runs = append(runs, r)
	}
	if len(runs) == 1 {
		return lv, runs[0], err
	}
	byCPU := slices.Clone(runs)
	slices.SortFunc(byCPU, func(a, b levelResult) int { return cmp.Compare(a.CPUPerCallSecond, b.CPUPerCallSecond) })
	med := byCPU[(len(byCPU)-1)/2]
	for _, x := range runs {
		med.CPURuns = append(med.CPURuns, x.CPUPerCallSecond)
	}
	return lv, med, err
}

// parallel runs f(0..n-1) on workers goroutines and waits.
func parallel(n, workers int, f func(i int)) {
	jobs := make(chan int)
	var wg sync.WaitGroup
	for range min(workers, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				f(i)
			}
		}()
	}
	for i := range n {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
}

func sleepCtx(ctx context.Context, d time.Duration) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// appendErr keeps a few distinct error texts.
func appendErr(list []string, s string) []string {
	if len(s) > 200 {
		s = s[:200]
	}
	for _, x := range list {
		if x == s {
			return list
		}
	}
	if len(list) >= 6 {
		return list
	}
	return append(list, s)
}
