package peer

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"time"
)

// liteTCP is the ICE-TCP fallback (RFC 6544, passive candidates only) for
// agents on networks that block UDP: each connection carries one
// session's STUN, DTLS and SRTP framed as RFC 4571 (a 2-byte length before
// every packet). Each connection has a read goroutine and, once it has
// something to send, a write goroutine: these are the few agents UDP
// cannot reach, and a slow TCP peer must never hold up the shared
// goroutines that relay everyone's audio.
type liteTCP struct {
	n    *liteNet
	ln   net.Listener
	port int

	mu      sync.Mutex
	conns   map[*tcpPath]struct{}
	pending map[netip.Addr]int // connections per address not yet authenticated
}

// maxTCPConns bounds the ICE-TCP connections, maxTCPPending those of one
// address without a valid check yet; tcpAuthWait is how long a connection
// may stay without one, tcpIdle how long an authenticated one may stay
// silent (browsers check consent every 5 s).
const (
	maxTCPConns   = 4096
	maxTCPPending = 8
	tcpAuthWait   = 10 * time.Second
	tcpIdle       = time.Minute
	// tcpQueue is how many packets may wait for a slow connection; more
	// are dropped, as a congested network would.
	tcpQueue = 64
	// tcpFrame is the largest frame kept: WebRTC keeps packets under the
	// path MTU, longer ones are read past and dropped.
	tcpFrame = 4096
)

func newLiteTCP(n *liteNet, ip string, port int) (*liteTCP, error) {
	ln, err := net.Listen("tcp", net.JoinHostPort(ip, strconv.Itoa(port)))
	if err != nil {
		return nil, fmt.Errorf("ice tcp port: %w", err)
	}
	return &liteTCP{n: n, ln: ln, port: ln.Addr().(*net.TCPAddr).Port,
		conns: map[*tcpPath]struct{}{}, pending: map[netip.Addr]int{}}, nil
}

func (t *liteTCP) close() {
	_ = t.ln.Close()
	t.mu.Lock()
	for c := range t.conns {
		c.close()
	}
	t.mu.Unlock()
}

func (t *liteTCP) acceptLoop() {
	defer t.n.wg.Done()
	for {
		c, err := t.ln.Accept()
		if err != nil {
			if t.n.closed.Load() || errors.Is(err, net.ErrClosed) {
				return
			}
			time.Sleep(10 * time.Millisecond)
			continue
		}
		tp := newTCPPath(t.n, c)
		ip := tp.addr.Addr()
		t.mu.Lock()
		if len(t.conns) >= maxTCPConns || t.pending[ip] >= maxTCPPending || t.n.closed.Load() {
			t.mu.Unlock()
			_ = c.Close()
			continue
		}
		t.conns[tp] = struct{}{}
		t.pending[ip]++
		t.mu.Unlock()
		t.n.wg.Add(1)
		go t.readLoop(tp)
	}
}

func (t *liteTCP) authenticated(tp *tcpPath) {
	ip := tp.addr.Addr()
	t.mu.Lock()
	if t.pending[ip]--; t.pending[ip] <= 0 {
		delete(t.pending, ip)
	}
	t.mu.Unlock()
}

// readLoop reads one connection's frames until it closes, stays without
// a valid check for tcpAuthWait, or goes silent for tcpIdle.
func (t *liteTCP) readLoop(tp *tcpPath) {
	defer t.n.wg.Done()
	authed := false
	defer func() {
		tp.close()
		t.mu.Lock()
		delete(t.conns, tp)
		t.mu.Unlock()
		if authed {
			t.n.dropTCP(tp)
		} else {
			t.authenticated(tp) // no longer pending either
		}
	}()
	rd := newPacketReader(t.n)
	buf := make([]byte, tcpFrame)
	key := pathKey{tcp: tp, addr: tp.addr}
	_ = tp.conn.SetReadDeadline(time.Now().Add(tcpAuthWait))
	for {
		if _, err := io.ReadFull(tp.conn, buf[:2]); err != nil {
			return
		}
		size := int(binary.BigEndian.Uint16(buf[:2]))
		if size > len(buf) {
			if _, err := io.CopyN(io.Discard, tp.conn, int64(size)); err != nil {
				return
			}
			continue
		}
		if _, err := io.ReadFull(tp.conn, buf[:size]); err != nil {
			return
		}
		rd.handle(key, buf[:size])
		switch {
		case authed:
			_ = tp.conn.SetReadDeadline(time.Now().Add(tcpIdle))
		case t.n.lookup(key) != nil:
			authed = true
			t.authenticated(tp)
			_ = tp.conn.SetReadDeadline(time.Now().Add(tcpIdle))
		}
	}
}

// tcpPath is one ICE-TCP connection.
type tcpPath struct {
	n    *liteNet
	conn net.Conn
	addr netip.AddrPort

	out       chan *[]byte
	startOnce sync.Once
	closeOnce sync.Once
	done      chan struct{}
}

func newTCPPath(n *liteNet, c net.Conn) *tcpPath {
	return &tcpPath{n: n, conn: c, addr: addrPortOf(c.RemoteAddr()), out: make(chan *[]byte, tcpQueue), done: make(chan struct{})}
}

func addrPortOf(a net.Addr) netip.AddrPort {
	if ta, ok := a.(*net.TCPAddr); ok {
		return ta.AddrPort()
	}
	return netip.AddrPort{}
}

var tcpBufs = sync.Pool{New: func() any { b := make([]byte, 0, 2+1500); return &b }}

var errTCPQueueFull = errors.New("ICE-TCP connection is not keeping up: packet dropped")

// write queues b, framed (RFC 4571), for the connection's writer and
// returns at once; a full queue drops the packet.
func (tp *tcpPath) write(b []byte) error {
	if len(b) > 0xffff {
		return errors.New("packet too long for ICE-TCP")
	}
	tp.startOnce.Do(func() {
		tp.n.wg.Add(1)
		go tp.writeLoop()
	})
	bp := tcpBufs.Get().(*[]byte)
	f := binary.BigEndian.AppendUint16((*bp)[:0], uint16(len(b)))
	f = append(f, b...)
	*bp = f
	select {
	case tp.out <- bp:
		return nil
	case <-tp.done:
		tcpBufs.Put(bp)
		return net.ErrClosed
	default:
		tcpBufs.Put(bp)
		return errTCPQueueFull
	}
}

// writeLoop writes queued frames whole, so packets never interleave; a
// failed or stalled write closes the connection (a partial frame would
// break the framing for good).
func (tp *tcpPath) writeLoop() {
	defer tp.n.wg.Done()
	for {
		select {
		case <-tp.done:
			return
		case bp := <-tp.out:
			_ = tp.conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
			_, err := tp.conn.Write(*bp)
			tcpBufs.Put(bp)
			if err != nil {
				tp.close()
				return
			}
		}
	}
}

func (tp *tcpPath) close() {
	tp.closeOnce.Do(func() {
		close(tp.done)
		_ = tp.conn.Close()
	})
}
