package rtpio

import (
	"errors"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"
)

// UDPLeg is the media of one SIP leg: an RTP socket, the symmetric-RTP
// latch, and an RTCP socket. Both sockets are read, with every other
// leg's, by pollers (poll_linux.go); elsewhere by a goroutine each. It is both a source (Reader) and
// a sink (Writer).
type UDPLeg struct {
	*Reader
	*Writer

	// sock is nil until the leg has its ports: an inbound leg is created
	// before routing decides the call will ring, and takes ports only then.
	sock  atomic.Pointer[sockets]
	ports *Ports

	// remote is where we send: first the address from the SDP, then
	// whatever address the far end's RTP really comes from (symmetric RTP
	// through NAT). The first source is latched; another source takes
	// over only as a NAT rebinding would look (see relearn), so a
	// stranger's packets cannot hijack the stream.
	remote   atomic.Pointer[netip.AddrPort]
	latched  atomic.Bool
	lastRecv atomic.Int64 // unix nanos of the last accepted packet
	// ssrc is the SSRC of the last packet accepted from the latched
	// source; only the read loop touches it.
	ssrc         uint32
	relearnAfter atomic.Int64 // nanos; see SetRelearnAfter
	relearned    atomic.Uint64
	wbuf         []byte
	sender       Sender // with wbuf, the Writer's (its lock serialises send)
	rtcpRecv     atomic.Uint64
	reports      farReports // RTCP about our stream, and for our reports (rtcp.go)
	octetsSent   atomic.Uint64
	paused       atomic.Bool // the far end holds: send nothing toward it

	mu        sync.Mutex // orders Attach against Close
	closed    bool
	started   bool
	closeOnce sync.Once
	done      chan struct{}
}

type sockets struct {
	rtp, rtcp *net.UDPConn
	rtpOut    *RawUDP // rtp, for the relay's sends
	rtcpOut   *RawUDP // rtcp, for the reports
}

func newSockets(rtp, rtcp *net.UDPConn) *sockets {
	return &sockets{rtp: rtp, rtcp: rtcp, rtpOut: NewRawUDP(rtp), rtcpOut: NewRawUDP(rtcp)}
}

// ErrLegClosed is returned by Attach on a leg that was closed first.
var ErrLegClosed = errors.New("rtp leg closed")

// NewUDPLeg wraps an allocated socket pair; Start begins reading.
func NewUDPLeg(conn, rtcpConn *net.UDPConn, ports *Ports, f Format) *UDPLeg {
	l := NewPendingUDPLeg(ports, f)
	l.sock.Store(newSockets(conn, rtcpConn))
	return l
}

// NewPendingUDPLeg is a leg without sockets yet: its Reader and Writer
// exist (so it can be wired up), nothing is sent or received until Attach.
func NewPendingUDPLeg(ports *Ports, f Format) *UDPLeg {
	l := &UDPLeg{
		Reader: NewReader(f),
		ports:  ports,
		wbuf:   make([]byte, MTU),
		done:   make(chan struct{}),
	}
	l.Writer = NewWriter(rand.Uint32(), f, l.send)
	l.lastRecv.Store(time.Now().UnixNano())
	l.relearnAfter.Store(int64(DefaultRelearnAfter))
	return l
}

// DefaultRelearnAfter is how long the latched source must have been silent
// before its stream (same SSRC) is accepted from a new address. Long
// enough that a stranger cannot interleave with a live stream, short
// enough that a NAT rebinding costs well under a second of audio.
const DefaultRelearnAfter = 300 * time.Millisecond

// SetRelearnAfter changes the silence that allows re-learning (0 never
// re-learns: the first source stays latched).
func (l *UDPLeg) SetRelearnAfter(d time.Duration) { l.relearnAfter.Store(int64(d)) }

// Relearned counts the times the stream moved to a new source address.
func (l *UDPLeg) Relearned() uint64 { return l.relearned.Load() }

// relearn decides whether a packet from src, not the latched source, is
// the same stream after a NAT rebinding: it carries the latched SSRC
// (which an off-path sender does not know) and the latched source has
// been silent for relearnAfter (so two live streams never alternate).
func (l *UDPLeg) relearn(pkt []byte) bool {
	after := l.relearnAfter.Load()
	if after <= 0 || pkt[0]>>6 != 2 {
		return false
	}
	ssrc := uint32(pkt[8])<<24 | uint32(pkt[9])<<16 | uint32(pkt[10])<<8 | uint32(pkt[11])
	if ssrc != l.ssrc {
		return false
	}
	return time.Now().UnixNano()-l.lastRecv.Load() >= after
}

// Attach gives a pending leg its allocated socket pair and starts reading.
// On a leg already closed it closes and releases the pair instead.
func (l *UDPLeg) Attach(conn, rtcpConn *net.UDPConn) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed || l.sock.Load() != nil {
		_ = conn.Close()
		_ = rtcpConn.Close()
		if l.ports != nil {
			l.ports.Release(conn)
		}
		return ErrLegClosed
	}
	l.sock.Store(newSockets(conn, rtcpConn))
	l.lastRecv.Store(time.Now().UnixNano())
	l.startLocked()
	return nil
}

// Attached reports whether the leg has its sockets.
func (l *UDPLeg) Attached() bool { return l.sock.Load() != nil }

// LocalAddr is the RTP address to put in our SDP (zero before Attach).
func (l *UDPLeg) LocalAddr() netip.AddrPort {
	s := l.sock.Load()
	if s == nil {
		return netip.AddrPort{}
	}
	return s.rtp.LocalAddr().(*net.UDPAddr).AddrPort()
}

// SetRemote sets the address from the far end's SDP. A new address (a
// re-INVITE moving the media) re-arms the latch.
func (l *UDPLeg) SetRemote(ap netip.AddrPort) {
	old := l.remote.Load()
	if old != nil && *old == ap {
		return
	}
	l.remote.Store(&ap)
	l.latched.Store(false)
}

// Remote returns where RTP is sent.
func (l *UDPLeg) Remote() (netip.AddrPort, bool) {
	if p := l.remote.Load(); p != nil {
		return *p, true
	}
	return netip.AddrPort{}, false
}

// SetFormat updates both halves.
func (l *UDPLeg) SetFormat(f Format) {
	l.Reader.SetFormat(f)
	l.Writer.SetFormat(f)
}

// Idle returns how long since the last RTP packet arrived.
func (l *UDPLeg) Idle(now time.Time) time.Duration {
	return now.Sub(time.Unix(0, l.lastRecv.Load()))
}

// TouchIdle restarts the idle clock (after answer or unhold).
func (l *UDPLeg) TouchIdle() { l.lastRecv.Store(time.Now().UnixNano()) }

// Start begins reading the RTP and RTCP sockets until Close. A pending leg
// starts them in Attach instead.
func (l *UDPLeg) Start() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.sock.Load() != nil && !l.closed {
		l.startLocked()
	}
}

func (l *UDPLeg) startLocked() {
	if l.started {
		return
	}
	l.started = true
	s := l.sock.Load()
	if !pollUDP(rtpPollers, s.rtp, l.onRTP) {
		go l.readLoop(s.rtp)
	}
	if !pollUDP(rtcpPollers, s.rtcp, l.onRTCP) {
		go l.rtcpLoop(s.rtcp)
	}
}

// readLoop reads the RTP socket where no poller can (poll_other.go).
func (l *UDPLeg) readLoop(conn *net.UDPConn) {
	buf := make([]byte, MTU+1)
	for {
		n, src, err := conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue // ICMP errors surface here on some systems; keep reading
		}
		l.onRTP(buf[:n], src, nil)
	}
}

// onRTP takes one datagram from the RTP socket: the latch, then the
// relay. Only the socket's reader (its poller) calls it.
func (l *UDPLeg) onRTP(b []byte, src netip.AddrPort, q *SendQueue) {
	if len(b) > MTU || len(b) < 12 {
		l.drop()
		return
	}
	latched := l.latched.Load()
	moved := false
	if latched {
		if r := l.remote.Load(); r == nil || (r.Addr() != src.Addr().Unmap() || r.Port() != src.Port()) {
			if !l.relearn(b) {
				l.drop()
				return
			}
			moved = true
		}
	}
	switch l.parse(b) {
	case verdictBad:
		return
	case verdictOther:
		// Comfort noise from the far end still proves it is alive, but
		// only audio or events may latch: a scanner's probe or a stray
		// datagram must not take the stream.
		if latched && !moved {
			l.lastRecv.Store(time.Now().UnixNano())
		}
		return
	}
	if !latched || moved {
		p := netip.AddrPortFrom(src.Addr().Unmap(), src.Port())
		l.remote.Store(&p)
		l.latched.Store(true)
		if moved {
			l.relearned.Add(1)
		}
	}
	l.ssrc = l.Reader.frame.Header.SSRC
	l.lastRecv.Store(time.Now().UnixNano())
	l.forwardVia(q)
}

// onRTCP takes one report from the RTCP socket.
func (l *UDPLeg) onRTCP(b []byte, _ netip.AddrPort, _ *SendQueue) { l.takeRTCP(b) }

func (l *UDPLeg) rtcpLoop(conn *net.UDPConn) {
	buf := make([]byte, MTU)
	for {
		n, _, err := conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		l.takeRTCP(buf[:n])
	}
}

// takeRTCP reads one report from the far end. Reports are measured (loss,
// jitter, round trip), not acted on: a bridge relays, it does not adapt
// bitrate.
func (l *UDPLeg) takeRTCP(b []byte) {
	l.rtcpRecv.Add(1)
	l.reports.handleRTCP(b, l.Writer.ssrcValue(), l.Writer.Holes(), time.Now())
}

// send is the Writer's transport: marshal into the leg's buffer and send
// to the (latched) remote. Called with the Writer's mutex held.
func (l *UDPLeg) send(h *rtp.Header, payload []byte, q *SendQueue) error {
	r := l.remote.Load()
	if r == nil {
		return errNoRemote
	}
	s := l.sock.Load()
	if s == nil {
		return errNoSocket
	}
	if l.paused.Load() {
		return errPaused
	}
	n, err := h.MarshalTo(l.wbuf)
	if err != nil {
		return err
	}
	n += copy(l.wbuf[n:], payload)
	l.octetsSent.Add(uint64(len(payload)))
	if q != nil {
		return q.Add(s.rtpOut, l.wbuf[:n], *r)
	}
	return l.sender.Send(s.rtpOut, l.wbuf[:n], *r)
}

var (
	errNoRemote = errors.New("no remote RTP address yet")
	errNoSocket = errors.New("no RTP socket yet")
	errPaused   = errors.New("sending paused")
)

// SetSendPaused stops (or resumes) sending RTP and RTCP toward the far
// end, for while it holds the call (a=sendonly or a=inactive): RFC 3264
// §5.1 forbids sending media to a peer that will not receive it.
func (l *UDPLeg) SetSendPaused(on bool) { l.paused.Store(on) }

// SendPaused reports whether sending is paused.
func (l *UDPLeg) SendPaused() bool { return l.paused.Load() }

// SendReport sends an RTCP report to the far end's RTCP port (RTP port +
// 1), so trunks that watch RTCP see a live stream: a sender report once
// we have sent, a receiver report before; either carries our reception
// of the far end's stream (loss, jitter, and the LSR/DLSR from which the
// far end measures the round trip).
func (l *UDPLeg) SendReport(now time.Time) {
	r := l.remote.Load()
	s := l.sock.Load()
	if r == nil || s == nil || l.paused.Load() {
		return
	}
	pkt := l.reports.report(l.Writer, l.octetsSent.Load(), l.Reader.Reception(), now)
	if pkt == nil {
		return
	}
	b, err := pkt.Marshal()
	if err != nil {
		return
	}
	_ = s.rtcpOut.Send(b, netip.AddrPortFrom(r.Addr(), r.Port()+1))
}

// RTCPStats returns what the far end's RTCP says about our stream.
func (l *UDPLeg) RTCPStats() RTCPStats { return l.reports.Stats() }

// RTCPReceived counts RTCP packets from the far end.
func (l *UDPLeg) RTCPReceived() uint64 { return l.rtcpRecv.Load() }

// Close stops the loops and frees the ports. Idempotent.
func (l *UDPLeg) Close() {
	l.closeOnce.Do(func() {
		l.Reader.Sink.Store(nil)
		l.mu.Lock()
		l.closed = true
		s := l.sock.Load()
		l.mu.Unlock()
		if s != nil {
			unpollUDP(rtpPollers, s.rtp)
			unpollUDP(rtcpPollers, s.rtcp)
			_ = s.rtp.Close()
			_ = s.rtcp.Close()
			if l.ports != nil {
				l.ports.Release(s.rtp)
			}
		}
		close(l.done)
	})
}

func ntpTime(t time.Time) uint64 {
	const ntpEpochOffset = 2208988800
	secs := uint64(t.Unix()) + ntpEpochOffset
	frac := uint64(t.Nanosecond()) * (1 << 32) / 1e9
	return secs<<32 | frac
}
