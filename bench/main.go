// Command bench is ringbridge's load benchmark: N agents (pion
// PeerConnections over the real agent websocket) hold N calls bridged
// through a separately running `ringbridge serve` to a SIP peer that
// answers and sends audio back, and a ramp of short calls finds the
// highest call rate with setup p99 under 100 ms.
//
//	go run ./bench                    # N = 50, 200, 350, 500, 30 s hold, rate ramp
//	go run ./bench -quick             # smoke run: 10 calls, 5 s hold
//
// See docs/benchmarks.md for what each figure means.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/ringbridge/ringbridge/cti"
	"github.com/ringbridge/ringbridge/media/peer"
)

type config struct {
	calls      []int
	hold       time.Duration
	idle       time.Duration
	rampRate   float64
	rates      []float64
	rateStep   time.Duration
	callLen    time.Duration
	timeout    time.Duration
	quietWait  time.Duration
	retries    int
	repeat     int
	serverCPUs string
	jsonPath   string
	keep       bool
	password   string
	pprofDir   string
	serverEnv  []string
}

func main() {
	var cfg config
	calls := flag.String("calls", "50,200,350,500", "concurrent call counts to hold, comma-separated")
	flag.DurationVar(&cfg.hold, "hold", 30*time.Second, "how long each N's calls are held")
	flag.DurationVar(&cfg.idle, "idle", 5*time.Second, "measurement of signed-in agents without calls")
	flag.Float64Var(&cfg.rampRate, "ramp", 50, "calls per second while bringing up the N calls")
	rates := flag.String("rates", "10,25,50,100,150,200", "new-call rates to try, calls per second")
	flag.DurationVar(&cfg.rateStep, "rate-step", 5*time.Second, "how long each rate is applied")
	flag.DurationVar(&cfg.callLen, "call-len", time.Second, "length of a call in the rate ramp")
	flag.DurationVar(&cfg.timeout, "timeout", 45*time.Minute, "hard limit for the whole run")
	flag.DurationVar(&cfg.quietWait, "quiet-wait", 2*time.Minute, "before each run, wait up to this long for other processes to go idle")
	flag.StringVar(&cfg.jsonPath, "json", "", "write results as JSON to this file (default: end of stdout)")
	flag.IntVar(&cfg.retries, "retries", 0, "repeat a run (up to this many times) when other processes used over 0.25 cores during it; the least disturbed run is reported")
	flag.IntVar(&cfg.repeat, "repeat", 1, "run each N this many times and report the run with the median CPU per call-second (the machine's noise is some ±7 %)")
	flag.StringVar(&cfg.serverCPUs, "server-cpus", "", "pin the server to these CPUs (taskset list); pin the bench with `taskset -c … go run ./bench`")
	flag.BoolVar(&cfg.keep, "keep", false, "keep the temporary directory (server logs, database)")
	flag.StringVar(&cfg.pprofDir, "pprof", "", "save the server's heap, goroutine and CPU profiles halfway through each hold into this directory")
	serverEnv := flag.String("server-env", "", "extra environment for the server, comma-separated K=V (e.g. GOMEMLIMIT=96MiB,GOGC=50)")
	quick := flag.Bool("quick", false, "smoke run: -calls 10 -hold 5s -idle 2s -rates 2,5 -rate-step 3s")
	flag.Parse()
	if *quick {
		*calls, cfg.hold, cfg.idle, *rates, cfg.rateStep = "10", 5*time.Second, 2*time.Second, "2,5", 3*time.Second
		cfg.quietWait = 0
	}
	for kv := range strings.SplitSeq(*serverEnv, ",") {
		if kv = strings.TrimSpace(kv); kv != "" {
			if !strings.Contains(kv, "=") {
				fatal(fmt.Errorf("-server-env: %q is not K=V", kv))
			}
			cfg.serverEnv = append(cfg.serverEnv, kv)
		}
	}
	var err error
	if cfg.calls, err = parseList(*calls, strconv.Atoi); err != nil {
		fatal(err)
	}
	if cfg.rates, err = parseList(*rates, func(s string) (float64, error) { return strconv.ParseFloat(s, 64) }); err != nil {
		fatal(err)
	}
	if cfg.hold < 3*time.Second {
		fatal(errors.New("-hold must be at least 3s (the first and last second are not counted)"))
	}
	cfg.password = "bench-" + cti.GeneratePassword(12)
	slog.SetDefault(slog.New(slog.DiscardHandler)) // the store's migration notes

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, cfg.timeout)
	defer cancel()

	res := &results{Machine: describeMachine(), Hold: cfg.hold.String()}
	if cfg.serverCPUs != "" {
		res.Pinning = fmt.Sprintf("server pinned to CPUs %s; load generator on CPUs %s", cfg.serverCPUs, benchCPUs())
	}
	if err := run(ctx, cfg, res); err != nil {
		res.Failures = append(res.Failures, err.Error())
	}
	summarize(res)
	printReport(os.Stdout, res)
	b, _ := json.MarshalIndent(res, "", "  ")
	if cfg.jsonPath != "" {
		if err := os.WriteFile(cfg.jsonPath, append(b, '\n'), 0o644); err != nil {
			fatal(err)
		}
	} else {
		fmt.Printf("\n%s\n", b)
	}
	if len(res.Levels) == 0 {
		os.Exit(1)
	}
}

func run(ctx context.Context, cfg config, res *results) error {
	root, err := moduleRoot()
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "ringbridge-bench-")
	if err != nil {
		return err
	}
	if cfg.keep {
		logf("keeping %s", tmp)
	} else {
		defer os.RemoveAll(tmp)
	}
	logf("building the server")
	bin, err := buildServer(ctx, root, tmp)
	if err != nil {
		return err
	}
	hash, err := cti.HashPassword(cfg.password)
	if err != nil {
		return err
	}
	e := &env{cfg: cfg, tmp: tmp, bin: bin, hash: hash, win: &window{}}
	// Chrome sends audio RTCP reports about every 5 s.
	if e.capi, err = peer.NewClientAPIWith(peer.ClientOptions{ReportInterval: 5 * time.Second}); err != nil {
		return err
	}
	if e.peer, err = newSIPPeer(e.win); err != nil {
		return err
	}
	peerCtx, stopPeer := context.WithCancel(ctx)
	go e.peer.run(peerCtx)
	defer func() {
		stopPeer()
		<-e.peer.stopped
		e.peer.close()
	}()

	var errs []error
	for i, n := range cfg.calls {
		lv, r, err := e.medianLevel(ctx, n)
		if err == nil || lv != nil {
			res.Levels = append(res.Levels, r)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("with %d calls: %w", n, err))
		}
		if lv == nil {
			continue
		}
		if i == len(cfg.calls)-1 && err == nil && len(cfg.rates) > 0 {
			res.RateOn = len(lv.agents)
			res.Rates = e.runRates(ctx, lv)
			res.MaxRate = maxRate(res.Rates)
		}
		lv.close()
		if ctx.Err() != nil {
			break
		}
	}
	if ctx.Err() != nil {
		errs = append(errs, fmt.Errorf("stopped early: %w", context.Cause(ctx)))
	}
	return errors.Join(errs...)
}

func parseList[T any](s string, parse func(string) (T, error)) ([]T, error) {
	var out []T
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		v, err := parse(f)
		if err != nil {
			return nil, fmt.Errorf("%q: %w", f, err)
		}
		out = append(out, v)
	}
	return out, nil
}

var started = time.Now()

// logf prints progress to stderr, so stdout holds only the report.
func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "[%6.1fs] %s\n", time.Since(started).Seconds(), fmt.Sprintf(format, args...))
}

// benchCPUs is this process's allowed CPU list (Cpus_allowed_list).
func benchCPUs() string {
	b, _ := os.ReadFile("/proc/self/status")
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "Cpus_allowed_list:"); ok {
			return strings.TrimSpace(v)
		}
	}
	return "?"
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "bench:", err)
	os.Exit(2)
}
