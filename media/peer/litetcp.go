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
// every packet). Each connection has a read goroutine: these are the few
// agents UDP cannot reach.
type liteTCP struct {
	n    *liteNet
	ln   net.Listener
	port int

	mu    sync.Mutex
	conns map[*tcpPath]struct{}
}

// maxTCPConns bounds the ICE-TCP connections (a flood of idle
// connections must not exhaust descriptors); tcpAuthWait is how long a
// connection may stay without a valid connectivity check.
const (
	maxTCPConns = 4096
	tcpAuthWait = 10 * time.Second
)

func newLiteTCP(n *liteNet, ip string, port int) (*liteTCP, error) {
	ln, err := net.Listen("tcp", net.JoinHostPort(ip, strconv.Itoa(port)))
	if err != nil {
		return nil, fmt.Errorf("ice tcp port: %w", err)
	}
	return &liteTCP{n: n, ln: ln, port: ln.Addr().(*net.TCPAddr).Port, conns: map[*tcpPath]struct{}{}}, nil
}

func (t *liteTCP) close() {
	_ = t.ln.Close()
	t.mu.Lock()
	for c := range t.conns {
		_ = c.conn.Close()
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
		tp := &tcpPath{conn: c, addr: addrPortOf(c.RemoteAddr())}
		t.mu.Lock()
		if len(t.conns) >= maxTCPConns || t.n.closed.Load() {
			t.mu.Unlock()
			_ = c.Close()
			continue
		}
		t.conns[tp] = struct{}{}
		t.mu.Unlock()
		t.n.wg.Add(1)
		go t.readLoop(tp)
	}
}

func addrPortOf(a net.Addr) netip.AddrPort {
	if ta, ok := a.(*net.TCPAddr); ok {
		return ta.AddrPort()
	}
	return netip.AddrPort{}
}

// readLoop reads one connection's frames until it closes or stays
// without a valid check for tcpAuthWait.
func (t *liteTCP) readLoop(tp *tcpPath) {
	defer t.n.wg.Done()
	defer func() {
		_ = tp.conn.Close()
		t.mu.Lock()
		delete(t.conns, tp)
		t.mu.Unlock()
		t.n.dropTCP(tp)
	}()
	rd := newPacketReader(t.n)
	buf := make([]byte, 1<<16)
	key := pathKey{tcp: tp, addr: tp.addr}
	_ = tp.conn.SetReadDeadline(time.Now().Add(tcpAuthWait))
	authed := false
	for {
		if _, err := io.ReadFull(tp.conn, buf[:2]); err != nil {
			return
		}
		size := int(binary.BigEndian.Uint16(buf[:2]))
		if _, err := io.ReadFull(tp.conn, buf[:size]); err != nil {
			return
		}
		rd.handle(key, buf[:size])
		if !authed && t.n.lookup(key) != nil {
			authed = true
			_ = tp.conn.SetReadDeadline(time.Time{})
		}
	}
}

// tcpPath is one ICE-TCP connection.
type tcpPath struct {
	conn net.Conn
	addr netip.AddrPort

	mu  sync.Mutex
	out []byte
}

// write frames b (RFC 4571) and writes it whole, so that packets of
// concurrent writers never interleave.
func (tp *tcpPath) write(b []byte) error {
	if len(b) > 0xffff {
		return errors.New("packet too long for ICE-TCP")
	}
	tp.mu.Lock()
	defer tp.mu.Unlock()
	tp.out = binary.BigEndian.AppendUint16(tp.out[:0], uint16(len(b)))
	tp.out = append(tp.out, b...)
	_ = tp.conn.SetWriteDeadline(time.Now().Add(time.Second))
	_, err := tp.conn.Write(tp.out)
	return err
}
