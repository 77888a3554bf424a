package peer

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"
	"github.com/ringbridge/ringbridge/media/rtpio"
)

// liteNet is the server's side of every agent session's transport as an
// ICE-lite agent (RFC 8445 §2.5): the shared UDP sockets (and the ICE-TCP
// listener), their readers, and the tables that route a datagram to its
// session. A socket is read by a media poller (rtpio.PollUDP, with the
// SIP legs' sockets), or where there are none by a read goroutine of
// liteNet's. A session costs no goroutine of its own once its DTLS
// handshake is done: the socket's reader checks STUN, decrypts SRTP and
// hands the frame to the session's rtpio.Reader inline, and the
// session's writer encrypts and sends from whichever goroutine writes.
//
// Concurrency: the tables are guarded by mu; one reader at a time per
// socket (a poller may hand a socket to another between its rounds);
// writes go straight to the sockets from any goroutine. close stops the
// polling, closes the sockets (waiting for a datagram in hand) and ends
// the read loops.
type liteNet struct {
	log   *slog.Logger
	socks []*liteSock
	tcp   *liteTCP // nil without ICE-TCP

	mu      sync.RWMutex
	byUfrag map[string]*liteCreds // our ufrag → session and password
	byPath  map[pathKey]*route

	closed atomic.Bool
	wg     sync.WaitGroup
}

// liteSock is one shared UDP socket, on one local address.
type liteSock struct {
	conn udpSocket
	out  *rtpio.RawUDP // conn, for sending
	// polled is conn when the media pollers read it (else a read loop does).
	polled pollableSocket
	ip     netip.Addr
	port   int
}

// udpSocket is what the read loops need of a socket: the batch reader on
// Linux, the plain socket elsewhere.
type udpSocket interface {
	ReadFromAddrPort(p []byte) (int, netip.AddrPort, error)
	LocalAddr() net.Addr
	Close() error
}

// pathKey is one way to reach a browser: a UDP address on one of our
// sockets, or an ICE-TCP connection.
type pathKey struct {
	sock *liteSock
	tcp  *tcpPath
	addr netip.AddrPort
}

func (p pathKey) String() string {
	if p.tcp != nil {
		return "tcp " + p.addr.String()
	}
	return "udp " + p.addr.String()
}

// route is one path's session, with when the browser last sent on it
// (Unix ns): a path nobody has used for routeStale may be taken over by
// another session (the NAT gave the address to another agent).
type route struct {
	ep   *liteEndpoint
	last atomic.Int64
}

// routeStale is how long a path may be silent before another session's
// check may take it.
const routeStale = 30 * time.Second

// liteCreds are the ICE credentials an offer was answered with.
type liteCreds struct {
	ep  *liteEndpoint
	pwd string
}

// maxDatagram is the read buffer of the shared sockets: pion's size, so
// whatever a browser sent before still fits.
const maxDatagram = 8192

// maxPaths bounds the addresses one session may be reached from (its
// candidates' pairs and NAT rebindings); the oldest is forgotten.
const maxPaths = 8

func newLiteNet(cfg Config, log *slog.Logger, onSocket func(net.PacketConn)) (*liteNet, error) {
	n := &liteNet{log: log, byUfrag: map[string]*liteCreds{}, byPath: map[pathKey]*route{}}
	ips, err := listenIPs(cfg, log)
	if err != nil {
		return nil, err
	}
	port := cfg.UDPPort
	for _, ip := range ips {
		c, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(ip, uint16(port))))
		if err != nil {
			n.closeSockets()
			return nil, fmt.Errorf("ice udp %s port %d: %w", ip, port, err)
		}
		_ = c.SetReadBuffer(4 << 20)
		_ = c.SetWriteBuffer(4 << 20)
		w, err := wrapICESocket(c)
		if err != nil {
			_ = c.Close()
			n.closeSockets()
			return nil, err
		}
		onSocket(w)
		s := &liteSock{conn: asUDPSocket(w), out: rtpio.NewRawUDP(c), ip: ip, port: c.LocalAddr().(*net.UDPAddr).Port}
		// Port 0 picks one port for the first address and the same for
		// the others, so the answer names one port.
		port = s.port
		n.socks = append(n.socks, s)
	}
	if cfg.TCPPort > 0 {
		if n.tcp, err = newLiteTCP(n, cfg.ListenIP, cfg.TCPPort); err != nil {
			n.closeSockets()
			return nil, err
		}
	}
	for _, s := range n.socks {
		if n.poll(s) {
			continue
		}
		n.wg.Add(1)
		go n.readLoop(s)
	}
	if n.tcp != nil {
		n.wg.Add(1)
		go n.tcp.acceptLoop()
	}
	return n, nil
}

// listenIPs are the local addresses to open the shared port on: the
// configured one, or every usable address (one socket per address: a
// socket on 0.0.0.0 cannot tell which address a browser reached, and
// would answer from another).
func listenIPs(cfg Config, log *slog.Logger) ([]netip.Addr, error) {
	if cfg.ListenIP != "" {
		ip, err := netip.ParseAddr(cfg.ListenIP)
		if err != nil {
			return nil, fmt.Errorf("ice listen address %q: %w", cfg.ListenIP, err)
		}
		return []netip.Addr{ip}, nil
	}
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil, fmt.Errorf("local addresses: %w", err)
	}
	var ips []netip.Addr
	for _, a := range addrs {
		pfx, err := netip.ParsePrefix(a.String())
		if err != nil {
			continue
		}
		ip := pfx.Addr().Unmap()
		switch {
		case ip.IsLinkLocalUnicast(), ip.IsMulticast(), ip.IsUnspecified():
			continue
		case ip.IsLoopback() && !cfg.IncludeLoopback:
			continue
		}
		if bindable(net.IP(ip.AsSlice()), log) {
			ips = append(ips, ip)
		}
	}
	if len(ips) == 0 {
		return nil, errors.New("no local address to open the ICE port on")
	}
	return ips, nil
}

func (n *liteNet) closeSockets() {
	for _, s := range n.socks {
		if s.polled != nil {
			s.polled.unpoll()
		}
		_ = s.conn.Close() // waits for a poller still handling a datagram of it
	}
}

// pollableSocket is a socket the media pollers can read (on Linux).
type pollableSocket interface {
	poll(on func([]byte, netip.AddrPort, *rtpio.SendQueue)) bool
	unpoll()
}

// poll has the media pollers read s, the SIP legs' sockets with it: one
// goroutine then relays both ways for its share, and a wake-up serves
// whatever arrived on any of them. False: s needs a read loop.
func (n *liteNet) poll(s *liteSock) bool {
	ps, ok := s.conn.(pollableSocket)
	if !ok {
		return false
	}
	rd := newPacketReader(n)
	if !ps.poll(func(b []byte, from netip.AddrPort, q *rtpio.SendQueue) {
		rd.sends = q
		rd.handle(pathKey{sock: s, addr: from}, b)
		rd.sends = nil
	}) {
		return false
	}
	s.polled = ps
	return true
}

func (n *liteNet) close() {
	if n.closed.Swap(true) {
		return
	}
	n.closeSockets()
	if n.tcp != nil {
		n.tcp.close()
	}
	n.wg.Wait()
}

// readLoop reads one socket until it is closed. A panic in a session's
// handling is recovered per datagram: one malformed packet must not stop
// every agent's audio.
func (n *liteNet) readLoop(s *liteSock) {
	defer n.wg.Done()
	rd := newPacketReader(n)
	buf := make([]byte, maxDatagram)
	for {
		nr, from, err := s.conn.ReadFromAddrPort(buf)
		if err != nil {
			if n.closed.Load() || errors.Is(err, net.ErrClosed) {
				return
			}
			n.log.Debug("ice udp read", "err", err)
			continue
		}
		rd.handle(pathKey{sock: s, addr: from}, buf[:nr])
	}
}

// packetReader is one read loop's scratch space: the decrypted packet
// and the parsed headers, reused for every datagram.
type packetReader struct {
	n     *liteNet
	sends *rtpio.SendQueue // the poller's, while it hands us a datagram
	plain []byte
	hdr   rtp.Header
	stun  stunScratch
}

func newPacketReader(n *liteNet) *packetReader {
	return &packetReader{n: n, plain: make([]byte, maxDatagram)}
}

// handle routes one datagram by its first byte (RFC 7983): STUN, DTLS or
// SRTP/SRTCP; anything else is dropped.
func (r *packetReader) handle(p pathKey, b []byte) {
	defer func() {
		if v := recover(); v != nil {
			r.n.log.Error("panic handling an ICE datagram", "path", p.String(), "panic", v)
		}
	}()
	if len(b) == 0 {
		return
	}
	switch c := b[0]; {
	case c <= 3:
		r.n.handleSTUN(&r.stun, p, b)
	case c >= 20 && c <= 63:
		if rt := r.n.lookup(p); rt != nil {
			rt.ep.dtlsIn(rt, p, b)
		}
	case c >= 128 && c <= 191:
		if rt := r.n.lookup(p); rt != nil {
			rt.ep.mediaIn(r, rt, p, b)
		}
	}
}

func (n *liteNet) lookup(p pathKey) *route {
	n.mu.RLock()
	rt := n.byPath[p]
	n.mu.RUnlock()
	return rt
}

// send writes one packet on a path. A session's media passes the
// session's sender (used under the session's lock) and, relayed on a
// poller's round, its queue (the packet then leaves at the round's end);
// the occasional senders (STUN answers, DTLS) pass nil and share the
// socket's.
func (n *liteNet) send(p *pathKey, b []byte, s *rtpio.Sender, q *rtpio.SendQueue) error {
	switch {
	case p.tcp != nil:
		return p.tcp.write(b)
	case q != nil:
		return q.Add(p.sock.out, b, p.addr)
	case s != nil:
		return s.Send(p.sock.out, b, p.addr)
	}
	return p.sock.out.Send(b, p.addr)
}

// register makes ufrag/pwd answer for ep.
func (n *liteNet) register(ufrag, pwd string, ep *liteEndpoint) {
	n.mu.Lock()
	n.byUfrag[ufrag] = &liteCreds{ep: ep, pwd: pwd}
	n.mu.Unlock()
}

func (n *liteNet) unregister(ufrag string) {
	n.mu.Lock()
	delete(n.byUfrag, ufrag)
	n.mu.Unlock()
}

// addPath routes p to ep (after a valid check from it); it returns false
// when p belongs to another session that still uses it.
func (n *liteNet) addPath(p pathKey, ep *liteEndpoint, now time.Time) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	if rt, ok := n.byPath[p]; ok {
		if rt.ep == ep {
			return true
		}
		if now.Sub(time.Unix(0, rt.last.Load())) < routeStale {
			return false
		}
		rt.ep.forget(p) // takes only the old session's own lock
	}
	rt := &route{ep: ep}
	rt.last.Store(now.UnixNano())
	n.byPath[p] = rt
	return true
}

// removePaths forgets ep's routes; an ICE-TCP connection carries one
// session only, so it is closed with its route.
func (n *liteNet) removePaths(ps []pathKey, ep *liteEndpoint) {
	var tcps []*tcpPath
	n.mu.Lock()
	for _, p := range ps {
		if rt := n.byPath[p]; rt != nil && rt.ep == ep {
			delete(n.byPath, p)
			if p.tcp != nil {
				tcps = append(tcps, p.tcp)
			}
		}
	}
	n.mu.Unlock()
	for _, t := range tcps {
		t.close()
	}
}

// dropTCP forgets every route over a closed ICE-TCP connection.
func (n *liteNet) dropTCP(t *tcpPath) {
	var eps []*liteEndpoint
	n.mu.Lock()
	for p, rt := range n.byPath {
		if p.tcp == t {
			delete(n.byPath, p)
			eps = append(eps, rt.ep)
		}
	}
	n.mu.Unlock()
	for _, ep := range eps {
		ep.pathGone(t)
	}
}

// candidates are the host candidates of every session's answer: each
// socket's address (or the configured public addresses, for 1:1 NAT),
// then ICE-TCP passive ones.
func (n *liteNet) candidates(public []string) []string {
	type hp struct {
		ip   string
		port int
	}
	var hosts []hp
	if len(public) > 0 {
		for _, ip := range public {
			hosts = append(hosts, hp{ip, n.socks[0].port})
		}
	} else {
		for _, s := range n.socks {
			hosts = append(hosts, hp{s.ip.String(), s.port})
		}
	}
	var out []string
	for i, h := range hosts {
		// Local preference falls with the index so the browser tries
		// the first address first; UDP before TCP by type preference.
		out = append(out, "candidate:"+strconv.Itoa(i+1)+" 1 udp "+strconv.FormatUint(priority(126, 65535-i), 10)+" "+h.ip+" "+strconv.Itoa(h.port)+" typ host generation 0")
	}
	if n.tcp != nil {
		for i, h := range hosts {
			out = append(out, "candidate:"+strconv.Itoa(100+i+1)+" 1 tcp "+strconv.FormatUint(priority(80, 65535-i), 10)+" "+h.ip+" "+strconv.Itoa(n.tcp.port)+" typ host tcptype passive generation 0")
		}
	}
	return out
}

// priority is RFC 8445 §5.1.2.1's formula for component 1.
func priority(typePref, localPref int) uint64 {
	return uint64(typePref)<<24 | uint64(localPref)<<8 | 255
}

// asUDPSocket gives a socket the AddrPort reads and writes the loops use.
func asUDPSocket(c net.PacketConn) udpSocket {
	if s, ok := c.(udpSocket); ok {
		return s
	}
	return plainUDP{c.(*net.UDPConn)}
}

// plainUDP is a socket read a datagram at a time (outside Linux).
type plainUDP struct{ *net.UDPConn }

func (p plainUDP) ReadFromAddrPort(b []byte) (int, netip.AddrPort, error) {
	return p.ReadFromUDPAddrPort(b)
}

// stale is how long a session's path may be silent before a check from
// another address takes over (a NAT rebinding or a network switch).
const stale = 2 * time.Second
