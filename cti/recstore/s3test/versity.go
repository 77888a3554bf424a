package s3test

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/ringbridge/ringbridge/cti/ctitest"
	"github.com/ringbridge/ringbridge/cti/recstore"
)

// Versity is a running versitygw: a real S3 gateway (posix backend:
// buckets are directories, objects files) that checks every request's
// AWS Signature V4 against its root credentials, as AWS does. gofakes3
// checks none, so only here does a wrong secret key fail.
type Versity struct {
	Endpoint  string
	AccessKey string
	SecretKey string
	Dir       string // the backend's root: one directory per bucket

	bin  string
	mu   sync.Mutex
	kill func() // stops the running process; nil when none
}

// Config returns the configuration of a bucket (not created) on the
// gateway, signed with the gateway's credentials.
func (v *Versity) Config(bucket string) recstore.S3Config {
	return recstore.S3Config{Endpoint: v.Endpoint, Bucket: bucket, Region: "us-east-1", AccessKey: v.AccessKey, SecretKey: v.SecretKey}
}

// buildMu keeps one test binary from building the gateway twice at once.
var buildMu sync.Mutex

// versityBinary returns the gateway's executable: RB_VERSITYGW when set,
// else one built from tools/versitygw (its own Go module, so none of its
// dependencies reach ringbridge's build) and kept in the user's cache
// directory under a name derived from that module's go.sum. The first
// build takes a few minutes on two cores; Go's build cache and the kept
// binary make every later one free.
func versityBinary(tb testing.TB) string {
	tb.Helper()
	if p := os.Getenv("RB_VERSITYGW"); p != "" {
		return p
	}
	_, self, _, _ := runtime.Caller(0)
	mod := filepath.Join(filepath.Dir(self), "..", "..", "..", "tools", "versitygw")
	sum, err := os.ReadFile(filepath.Join(mod, "go.sum"))
	if err != nil {
		tb.Fatalf("s3test: versitygw module: %v", err)
	}
	h := sha256.Sum256(sum)
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	bin := filepath.Join(cache, "ringbridge-test", "versitygw-"+hex.EncodeToString(h[:8]))
	buildMu.Lock()
	defer buildMu.Unlock()
	if _, err := os.Stat(bin); err == nil {
		return bin
	}
	if err := os.MkdirAll(filepath.Dir(bin), 0o755); err != nil {
		tb.Fatal(err)
	}
	// Test binaries of several packages may get here at once: one builds,
	// the others wait for its result.
	unlock, err := buildLock(bin+".lock", func() bool { _, err := os.Stat(bin); return err == nil })
	if err != nil {
		tb.Fatalf("s3test: %v", err)
	}
	defer unlock()
	if _, err := os.Stat(bin); err == nil {
		return bin
	}
	// Built beside its final name and renamed, so a test binary running in
	// parallel never runs a half-written file.
	tmp := fmt.Sprintf("%s.%d.tmp", bin, os.Getpid())
	ctx, cancel := context.WithTimeout(context.Background(), 12*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "build", "-o", tmp, "github.com/versity/versitygw/cmd/versitygw")
	cmd.Dir = mod
	began := time.Now()
	if out, err := cmd.CombinedOutput(); err != nil {
		_ = os.Remove(tmp)
		tb.Fatalf("s3test: building versitygw (set RB_VERSITYGW to use a built one): %v\n%s", err, out)
	}
	if err := os.Rename(tmp, bin); err != nil {
		tb.Fatal(err)
	}
	tb.Logf("s3test: built versitygw in %v", time.Since(began).Round(time.Second))
	return bin
}

// buildLock takes a lock file (created exclusively) or waits while
// another process holds it, until done reports the other's work finished.
// A lock older than the longest build is taken to be left over from a
// killed run.
func buildLock(path string, done func() bool) (func(), error) {
	deadline := time.Now().Add(15 * time.Minute)
	for {
		f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
		if err == nil {
			f.Close()
			return func() { _ = os.Remove(path) }, nil
		}
		if !os.IsExist(err) {
			return nil, err
		}
		if done() {
			return func() {}, nil
		}
		if st, err := os.Stat(path); err == nil && time.Since(st.ModTime()) > 13*time.Minute {
			_ = os.Remove(path)
			continue
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("waited 15 minutes for %s", path)
		}
		time.Sleep(time.Second)
	}
}

// StartVersity runs a versitygw on a free loopback port with fresh root
// credentials and an empty backend directory, until the test ends (it is
// killed by its PID).
func StartVersity(tb testing.TB) *Versity {
	tb.Helper()
	key := make([]byte, 20)
	_, _ = rand.Read(key)
	v := &Versity{AccessKey: "rb" + hex.EncodeToString(key[:6]), SecretKey: hex.EncodeToString(key), Dir: tb.TempDir(), bin: versityBinary(tb)}
	tb.Cleanup(func() { v.stop() })
	for attempt := 1; ; attempt++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			tb.Fatal(err)
		}
		v.Endpoint = ln.Addr().String()
		_ = ln.Close() // another process could take the port now: retried below
		out, err := v.run()
		if err == nil {
			return v
		}
		if attempt >= 3 {
			tb.Fatalf("s3test: versitygw on %s: %v\n%s", v.Endpoint, err, out)
		}
	}
}

// Restart stops the gateway and starts it again on the same address and
// directory (the buckets and objects stay) with a new secret key, as when
// an operator rotates the store's credentials.
func (v *Versity) Restart(tb testing.TB, secret string) {
	tb.Helper()
	v.stop()
	v.SecretKey = secret
	if out, err := v.run(); err != nil {
		tb.Fatalf("s3test: restart versitygw on %s: %v\n%s", v.Endpoint, err, out)
	}
}

// run starts the process and waits until it answers.
func (v *Versity) run() (string, error) {
	var out ctitest.SyncBuffer
	cmd := exec.Command(v.bin, "--access", v.AccessKey, "--secret", v.SecretKey, "--region", "us-east-1",
		"--port", v.Endpoint, "--quiet", "posix", v.Dir)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		return "", fmt.Errorf("start versitygw: %w", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	v.mu.Lock()
	v.kill = func() {
		_ = cmd.Process.Kill()
		<-exited
	}
	v.mu.Unlock()
	if err := waitHTTP(v.Endpoint, exited); err != nil {
		v.stop()
		return out.String(), err
	}
	return "", nil
}

// stop kills the running process, if any, and waits for it.
func (v *Versity) stop() {
	v.mu.Lock()
	kill := v.kill
	v.kill = nil
	v.mu.Unlock()
	if kill != nil {
		kill()
	}
}

// waitHTTP polls until the gateway answers HTTP (an anonymous request
// gets 403), it exits, or 20 s pass.
func waitHTTP(addr string, exited <-chan struct{}) error {
	deadline := time.Now().Add(20 * time.Second)
	client := &http.Client{Timeout: time.Second}
	for {
		res, err := client.Get("http://" + addr + "/")
		if err == nil {
			res.Body.Close()
			return nil
		}
		select {
		case <-exited:
			return fmt.Errorf("exited before answering: %w", err)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no answer in 20 s: %w", err)
		}
	}
}
