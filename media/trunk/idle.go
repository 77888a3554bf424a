package trunk

import (
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// idleListener hands sipgo connections that remember when they last
// carried a byte, so the reaper can close those idle too long: sipgo keeps
// an accepted TCP connection open for as long as the peer does, and a
// scanner opening hundreds would hold them (and their goroutines) forever.
type idleListener struct {
	net.Listener
	mu    sync.Mutex
	conns map[*idleConn]struct{}
}

func newIdleListener(ln net.Listener) *idleListener {
	return &idleListener{Listener: ln, conns: map[*idleConn]struct{}{}}
}

func (l *idleListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	ic := &idleConn{Conn: c, l: l}
	ic.last.Store(time.Now().UnixNano())
	l.mu.Lock()
	l.conns[ic] = struct{}{}
	l.mu.Unlock()
	return ic, nil
}

// open returns how many accepted connections are open.
func (l *idleListener) open() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.conns)
}

// reap closes connections idle for longer than idle, except those keep
// says to keep (a dialog's requests still need them).
func (l *idleListener) reap(now time.Time, idle time.Duration, keep func(remote string) bool) int {
	l.mu.Lock()
	var stale []*idleConn
	for c := range l.conns {
		if now.Sub(time.Unix(0, c.last.Load())) > idle {
			stale = append(stale, c)
		}
	}
	l.mu.Unlock()
	n := 0
	for _, c := range stale {
		if keep(c.RemoteAddr().String()) {
			c.last.Store(now.UnixNano())
			continue
		}
		_ = c.Close()
		n++
	}
	return n
}

type idleConn struct {
	net.Conn
	l    *idleListener
	last atomic.Int64 // unix nanos of the last byte either way
	once sync.Once
}

func (c *idleConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if n > 0 {
		c.last.Store(time.Now().UnixNano())
	}
	return n, err
}

func (c *idleConn) Write(b []byte) (int, error) {
	n, err := c.Conn.Write(b)
	if n > 0 {
		c.last.Store(time.Now().UnixNano())
	}
	return n, err
}

func (c *idleConn) Close() error {
	c.once.Do(func() {
		c.l.mu.Lock()
		delete(c.l.conns, c)
		c.l.mu.Unlock()
	})
	return c.Conn.Close()
}
