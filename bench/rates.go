package main

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// runRates places short calls at rising rates on lv's agents.
func (e *env) runRates(ctx context.Context, lv *level) []rateResult {
	var out []rateResult
	for _, rate := range e.cfg.rates {
		if ctx.Err() != nil || !lv.srv.alive() {
			break
		}
		rr := e.runRate(ctx, lv, rate)
		for try := 1; try <= e.cfg.retries && rr.OtherCores > contended && ctx.Err() == nil; try++ {
			logf("rate %g/s: other processes used %.2f cores; running it again (%d/%d)", rate, rr.OtherCores, try, e.cfg.retries)
			time.Sleep(2 * time.Second)
			if rr2 := e.runRate(ctx, lv, rate); rr2.OtherCores < rr.OtherCores && rr2.Placed > 0 {
				rr = rr2
			}
		}
		if ctx.Err() != nil && rr.Placed == 0 {
			break
		}
		out = append(out, rr)
		logf("rate %g/s: %d placed, %d failed, %d starved; setup p50 %.1f ms p99 %.1f ms; server %.2f cores",
			rate, rr.Placed, rr.Failed, rr.Starved, rr.Setup.P50, rr.Setup.P99, rr.ServerCores)
		if rr.Placed > 0 && (float64(rr.Failed)/float64(rr.Placed) > 0.05 || rr.Setup.P99 > 2000) {
			logf("stopping the ramp: the server is past its limit")
			break
		}
		time.Sleep(2 * time.Second) // let the last calls' teardown settle
	}
	return out
}

func (e *env) runRate(ctx context.Context, lv *level, rate float64) rateResult {
	rr := rateResult{Rate: rate}
	rr.OtherCoresBefore = waitQuiet(ctx, e.cfg.quietWait, 0)
	pool := make(chan *agent, len(lv.agents))
	for _, a := range lv.agents {
		pool <- a
	}
	var setup, toAudio samples
	var mu sync.Mutex
	var wg sync.WaitGroup
	total := int(rate * e.cfg.rateStep.Seconds())
	s := startSampler(lv.srv.pid)
	t0 := time.Now()
	for i := range total {
		sleepCtx(ctx, time.Until(t0.Add(time.Duration(float64(i)/rate*float64(time.Second)))))
		if ctx.Err() != nil {
			break
		}
		var a *agent
		select {
		case a = <-pool:
		default:
			rr.Starved++ // every agent busy: a generator limit, not a server one
			continue
		}
		rr.Placed++
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { pool <- a }()
			cr := a.dial(ctx)
			if cr.err == nil {
				setup.add(cr.setup)
				toAudio.add(cr.firstAudio)
				sleepCtx(ctx, e.cfg.callLen)
			}
			var herr error
			if cr.id != "" {
				herr = a.hangup(ctx, cr.id)
			}
			if cr.err != nil || herr != nil {
				mu.Lock()
				rr.Failed++
				rr.Errors = appendErr(rr.Errors, fmt.Sprint(cr.err, " / hangup: ", herr))
				mu.Unlock()
			}
		}()
	}
	rr.AchievedRate = float64(rr.Placed) / time.Since(t0).Seconds()
	wg.Wait()
	u := s.Stop()
	rr.ServerCores, rr.GeneratorCores, rr.OtherCores, rr.KernelIRQCores = u.serverCores(), u.genCores(), u.otherCores(), u.irqCores()
	rr.Setup, rr.DialToAudio = setup.dist(), toAudio.dist()
	return rr
}

// maxRate is the highest step with setup p99 under 100 ms and nothing
// failed or starved.
func maxRate(rates []rateResult) float64 {
	best := 0.0
	for _, r := range rates {
		if r.Failed == 0 && r.Starved == 0 && r.Setup.N > 0 && r.Setup.P99 < 100 {
			best = max(best, r.Rate)
		}
	}
	return best
}
