package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"time"

	"github.com/ringbridge/ringbridge/cti"
	"github.com/ringbridge/ringbridge/cti/store/sqlite"
)

const (
	tenantID   = "demo"
	firstExt   = 2000
	serverRTP  = "20000-29999" // trunk.Phone uses 30000-40000 for its own RTP
	dialNumber = "15559990000"
)

// buildServer compiles the ringbridge binary from the module root.
func buildServer(ctx context.Context, root, dir string) (string, error) {
	bin := filepath.Join(dir, "ringbridge")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, ".")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build: %w\n%s", err, out)
	}
	return bin, nil
}

// moduleRoot finds the directory holding ringbridge's go.mod, starting at
// the working directory.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && strings.Contains(string(b), "module github.com/ringbridge/ringbridge\n") {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("run the benchmark from inside the ringbridge module (go run ./bench)")
		}
		dir = parent
	}
}

// seedDB creates the tenant and n agents sharing one password hash, so the
// server skips its demo seed and we skip n argon2 runs.
func seedDB(ctx context.Context, dataDir string, n int, hash string) error {
	st, err := sqlite.Open(ctx, filepath.Join(dataDir, "ringbridge.db"))
	if err != nil {
		return err
	}
	defer st.Close()
	if err := st.CreateTenant(ctx, &cti.Tenant{ID: tenantID, Name: "Bench"}); err != nil {
		return err
	}
	for i := range n {
		ext := fmt.Sprint(firstExt + i)
		if err := st.CreateUser(ctx, &cti.User{TenantID: tenantID, Username: "agent" + ext, DisplayName: "Bench " + ext,
			Extension: ext, Role: cti.RoleAgent, PasswordHash: hash}); err != nil {
			return fmt.Errorf("create user %s: %w", ext, err)
		}
	}
	return nil
}

// freePort returns a port free for both TCP and UDP on 127.0.0.1.
func freePort() (int, error) {
	for range 50 {
		u, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			return 0, err
		}
		port := u.LocalAddr().(*net.UDPAddr).Port
		t, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		u.Close()
		if err != nil {
			continue
		}
		t.Close()
		return port, nil
	}
	return 0, errors.New("no free port")
}

// server is one running `ringbridge serve` process.
type server struct {
	cmd     *exec.Cmd
	pid     int
	base    string // http://127.0.0.1:port
	logPath string
	exited  chan struct{}
	exitErr error
	// pprofAddr serves /debug/pprof ("" when not asked for).
	pprofAddr string
}

// profiles saves the server's heap, goroutine and a 10 s CPU profile into
// dir as n<N>-heap.pb.gz, n<N>-heap.txt, n<N>-goroutine.txt and
// n<N>-cpu.pb.gz, and what was allocated during those 10 s as
// n<N>-allocs.pb.gz (baseProfile saved the heap before the logins).
func (s *server) profiles(ctx context.Context, dir string, n int) error {
	// The CPU profile and the allocations over the same 10 s.
	allocs := make(chan error, 1)
	go func() { allocs <- s.profile(ctx, dir, n, "/debug/pprof/allocs?seconds=10", "allocs.pb.gz") }()
	return errors.Join(
		s.profile(ctx, dir, n, "/debug/pprof/heap", "heap.pb.gz"),
		s.profile(ctx, dir, n, "/debug/pprof/heap?debug=1", "heap.txt"), // ends with the runtime's memory statistics
		s.profile(ctx, dir, n, "/debug/pprof/goroutine?debug=1", "goroutine.txt"),
		s.profile(ctx, dir, n, "/debug/pprof/profile?seconds=10", "cpu.pb.gz"),
		<-allocs,
	)
}

// baseProfile saves the heap before any agent signs in, as
// n<N>-heap-base.pb.gz: `go tool pprof -diff_base` against it shows
// what the sessions and calls hold, apart from what the process holds
// anyway.
func (s *server) baseProfile(ctx context.Context, dir string, n int) error {
	// gc=1: a heap profile is as of the last collection, which this
	// soon after the start may not have seen the start-up allocations.
	return s.profile(ctx, dir, n, "/debug/pprof/heap?gc=1", "heap-base.pb.gz")
}

// profile saves what path serves into dir as n<N>-file.
func (s *server) profile(ctx context.Context, dir string, n int, path, file string) error {
	if s.pprofAddr == "" {
		return errors.New("the server was started without pprof")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+s.pprofAddr+path, nil)
	res, err := (&http.Client{Timeout: time.Minute}).Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", path, res.Status)
	}
	f, err := os.Create(filepath.Join(dir, fmt.Sprintf("n%d-%s", n, file)))
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(f, res.Body)
	return err
}

// serverSetup is a seeded data directory and a config; start runs a
// server on it, any number of times (tokens stay valid across restarts:
// the JWT secret is in the config).
type serverSetup struct {
	bin, dir, cfgPath, base string
	cpus                    string // taskset CPU list, "" for any
	runs                    int
	pprof                   bool // serve /debug/pprof on a private metrics port
	env                     []string
	metricsAddr             string
}

// prepareServer seeds a fresh data directory and writes a config pointing
// the only trunk at the bench's SIP peer.
func prepareServer(ctx context.Context, bin, dir string, agents int, hash, peerAddr string) (*serverSetup, error) {
	dataDir := filepath.Join(dir, "data")
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, err
	}
	if err := seedDB(ctx, dataDir, agents, hash); err != nil {
		return nil, err
	}
	var ports [3]int
	for i := range ports {
		p, err := freePort()
		if err != nil {
			return nil, err
		}
		ports[i] = p
	}
	secret := make([]byte, 32)
	_, _ = rand.Read(secret)
	cfg := map[string]any{
		"dataDir": dataDir, "certDir": filepath.Join(dir, "certs"), "tls": false,
		"httpAddr": fmt.Sprintf("127.0.0.1:%d", ports[0]), "sipAddr": fmt.Sprintf("127.0.0.1:%d", ports[1]),
		"webrtcUdpPort": ports[2], "webrtcTcpPort": 0, "rtpPorts": serverRTP, "mediaIp": "127.0.0.1",
		"jwtSecret": hex.EncodeToString(secret), "logLevel": "warn",
		"trunks":      []map[string]any{{"name": "bench", "address": peerAddr, "allowFrom": []string{"127.0.0.1/32"}}},
		"ringTimeout": "10s", "mediaTimeout": "20s", "shutdownTimeout": "2s",
		// Every call comes from one loopback carrier, at rates far above
		// what one real source may send: the per-source limits stay off.
		"sipRateLimits": map[string]float64{"invitePerSecond": -1, "optionsPerSecond": -1},
	}
	cfgPath := filepath.Join(dir, "bench.json")
	b, _ := json.MarshalIndent(cfg, "", "  ")
	if err := os.WriteFile(cfgPath, b, 0o600); err != nil {
		return nil, err
	}
	return &serverSetup{bin: bin, dir: dir, cfgPath: cfgPath, base: fmt.Sprintf("http://127.0.0.1:%d", ports[0])}, nil
}

// start runs `ringbridge serve -config …` and waits until it is healthy.
func (ss *serverSetup) start(ctx context.Context) (*server, error) {
	ss.runs++
	logPath := filepath.Join(ss.dir, fmt.Sprintf("server-%d.log", ss.runs))
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer logf.Close() // the child keeps its own descriptor
	cmd := exec.Command(ss.bin, "serve", "-config", ss.cfgPath)
	if ss.cpus != "" {
		// taskset execs the server, so the pid stays the server's.
		cmd = exec.Command("taskset", "-c", ss.cpus, ss.bin, "serve", "-config", ss.cfgPath)
	}
	cmd.Dir = ss.dir
	cmd.Stdout, cmd.Stderr = logf, logf
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "RINGBRIDGE_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	// /metrics is served on the main port only with a token.
	cmd.Env = append(cmd.Env, "RINGBRIDGE_METRICS_TOKEN="+benchMetricsToken)
	cmd.Env = append(cmd.Env, ss.env...)
	if ss.pprof {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		ss.metricsAddr = fmt.Sprintf("127.0.0.1:%d", port)
		cmd.Env = append(cmd.Env, "RINGBRIDGE_METRICS_ADDR="+ss.metricsAddr, "RINGBRIDGE_PPROF=1")
	}
	// Own process group, so a Ctrl-C in the terminal reaches only us and we
	// stop the server ourselves; Pdeathsig is the backstop should the bench
	// itself be killed.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &server{cmd: cmd, pid: cmd.Process.Pid, base: ss.base, logPath: logPath, exited: make(chan struct{}), pprofAddr: ss.metricsAddr}
	go func() { s.exitErr = cmd.Wait(); close(s.exited) }()
	if err := s.waitReady(ctx, 20*time.Second); err != nil {
		s.stop()
		return nil, err
	}
	return s, nil
}

func (s *server) waitReady(ctx context.Context, d time.Duration) error {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		select {
		case <-s.exited:
			return fmt.Errorf("server exited at start-up (%v); see %s", s.exitErr, s.logPath)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		res, err := http.Get(s.base + "/healthz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return nil
			}
		}
	}
	return fmt.Errorf("server not ready after %s; see %s", d, s.logPath)
}

// alive reports whether the process is still running.
func (s *server) alive() bool {
	select {
	case <-s.exited:
		return false
	default:
		return true
	}
}

// stop sends SIGTERM, waits, and kills the process if it lingers.
func (s *server) stop() {
	if !s.alive() {
		return
	}
	_ = syscall.Kill(s.pid, syscall.SIGTERM)
	select {
	case <-s.exited:
		return
	case <-time.After(10 * time.Second):
	}
	_ = syscall.Kill(s.pid, syscall.SIGKILL)
	<-s.exited
}

// logSummary counts warnings and errors in the server's JSON log and
// returns the distinct messages (numbers masked) with their counts.
func (s *server) logSummary() (warns, errs int, msgs []string) {
	f, err := os.Open(s.logPath)
	if err != nil {
		return 0, 0, nil
	}
	defer f.Close()
	counts := map[string]int{}
	var order []string
	digits := regexp.MustCompile(`[0-9]+`)
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var rec struct {
			Level string `json:"level"`
			Msg   string `json:"msg"`
			Err   string `json:"err"`
		}
		if json.Unmarshal(sc.Bytes(), &rec) != nil {
			continue
		}
		switch rec.Level {
		case "WARN":
			warns++
		case "ERROR":
			errs++
		default:
			continue
		}
		key := rec.Level + " " + rec.Msg
		if rec.Err != "" {
			key += ": " + rec.Err
		}
		key = digits.ReplaceAllString(key, "#")
		if len(key) > 160 {
			key = key[:160]
		}
		if counts[key] == 0 {
			order = append(order, key)
		}
		counts[key]++
	}
	for _, k := range order[:min(len(order), 8)] {
		msgs = append(msgs, fmt.Sprintf("%d× %s", counts[k], k))
	}
	return warns, errs, msgs
}
