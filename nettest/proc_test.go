//go:build nettest

package nettest

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// proc is a process started inside a namespace; its output is kept and
// scanned line by line.
type proc struct {
	t    testing.TB
	name string
	cmd  *exec.Cmd
	in   io.WriteCloser

	mu     sync.Mutex
	lines  []string
	counts map[string]int // "frames HZ N" / "tone frames N": the latest N
	exited chan struct{}
}

// start runs args inside namespace ns; the process is ended (by its PID)
// when the test ends.
func (tp *topo) start(name, role string, env []string, args ...string) *proc {
	tp.t.Helper()
	cmd := exec.Command("ip", append([]string{"netns", "exec", tp.ns(role)}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	p := &proc{t: tp.t, name: name, cmd: cmd, counts: map[string]int{}, exited: make(chan struct{})}
	var err error
	if p.in, err = cmd.StdinPipe(); err != nil {
		tp.t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		tp.t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		tp.t.Fatalf("starting %s: %v", name, err)
	}
	tp.t.Cleanup(p.stop)
	go func() {
		defer close(p.exited)
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			p.add(sc.Text())
		}
		_ = cmd.Wait()
	}()
	return p
}

var countRE = regexp.MustCompile(`^(?:frames (\d+)|tone frames) (\d+)$`)

func (p *proc) add(line string) {
	if os.Getenv("RB_TEST_LOG") != "" {
		fmt.Fprintf(os.Stderr, "[%s] %s\n", p.name, line)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if m := countRE.FindStringSubmatch(line); m != nil {
		n, _ := strconv.Atoi(m[2])
		p.counts[m[1]] = n
		return // counts are not kept as lines
	}
	p.lines = append(p.lines, line)
}

// stop ends the process: SIGTERM, then SIGKILL after a grace period.
func (p *proc) stop() {
	if p.cmd.Process == nil {
		return
	}
	select {
	case <-p.exited:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(5 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.exited
	}
}

// send writes one command line to the process.
func (p *proc) send(format string, args ...any) {
	p.t.Helper()
	if _, err := fmt.Fprintf(p.in, format+"\n", args...); err != nil {
		p.t.Fatalf("%s: %v", p.name, err)
	}
}

// output is everything the process printed (counts left out).
func (p *proc) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.lines, "\n")
}

// waitLine waits for a line matching re, searching from line index from;
// it returns the submatches and the index after the line.
func (p *proc) waitLine(re string, from int, within time.Duration) ([]string, int) {
	p.t.Helper()
	rx := regexp.MustCompile(re)
	deadline := time.Now().Add(within)
	for {
		p.mu.Lock()
		for i := from; i < len(p.lines); i++ {
			if m := rx.FindStringSubmatch(p.lines[i]); m != nil {
				p.mu.Unlock()
				return m, i + 1
			}
		}
		p.mu.Unlock()
		select {
		case <-p.exited:
			p.t.Fatalf("%s exited while waiting for %q:\n%s", p.name, re, p.output())
		default:
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("%s: no %q within %v:\n%s", p.name, re, within, p.output())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// mark is the index of the next line, for waitLine.
func (p *proc) mark() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.lines)
}

// count is the latest reported count of frames carrying key's tone ("" is
// `ringbridge dial -expect`'s single tone).
func (p *proc) count(key string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.counts[key]
}

// waitHeard waits until the count for key has grown by n frames (20 ms
// each) and returns how long that took.
func (p *proc) waitHeard(key string, n int, within time.Duration, what string) time.Duration {
	p.t.Helper()
	start, from := time.Now(), p.count(key)
	for p.count(key) < from+n {
		select {
		case <-p.exited:
			p.t.Fatalf("%s exited while waiting for %s:\n%s", p.name, what, p.output())
		default:
		}
		if time.Since(start) > within {
			p.t.Fatalf("%s: %s not heard within %v (%d tone frames, from %d)\n%s", p.name, what, within, p.count(key), from, p.output())
		}
		time.Sleep(10 * time.Millisecond)
	}
	return time.Since(start)
}

// binary is the ringbridge binary under test (RB_BIN, default bin/ringbridge).
func binary(t testing.TB) string {
	t.Helper()
	b := os.Getenv("RB_BIN")
	if b == "" {
		b = "../bin/ringbridge"
	}
	abs, err := filepath.Abs(b)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(abs); err != nil {
		t.Fatalf("%s is missing: run make build (make test-net does)", abs)
	}
	return abs
}
