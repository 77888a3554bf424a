package rtpio

import (
	"errors"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
)

// UDPLeg is the media of one SIP leg: an RTP socket with a read loop, the
// symmetric-RTP latch, and an RTCP socket. It is both a source (Reader) and
// a sink (Writer).
type UDPLeg struct {
	*Reader
	*Writer

	conn, rtcpConn *net.UDPConn
	ports          *Ports

	// remote is where we send: first the address from the SDP, then
	// whatever address the far end's RTP really comes from (symmetric RTP
	// through NAT). Only the first source is latched, so a stranger's
	// packets cannot hijack the stream.
	remote     atomic.Pointer[netip.AddrPort]
	latched    atomic.Bool
	lastRecv   atomic.Int64 // unix nanos of the last accepted packet
	wbuf       []byte
	rtcpRecv   atomic.Uint64
	octetsSent atomic.Uint64

	closeOnce sync.Once
	done      chan struct{}
}

// NewUDPLeg wraps an allocated socket pair; Start begins reading.
func NewUDPLeg(conn, rtcpConn *net.UDPConn, ports *Ports, f Format) *UDPLeg {
	l := &UDPLeg{
		Reader:   NewReader(f),
		conn:     conn,
		rtcpConn: rtcpConn,
		ports:    ports,
		wbuf:     make([]byte, MTU),
		done:     make(chan struct{}),
	}
	l.Writer = NewWriter(rand.Uint32(), f, l.send)
	l.lastRecv.Store(time.Now().UnixNano())
	return l
}

// LocalAddr is the RTP address to put in our SDP.
func (l *UDPLeg) LocalAddr() netip.AddrPort {
	return l.conn.LocalAddr().(*net.UDPAddr).AddrPort()
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

// Start runs the RTP and RTCP read loops until Close.
func (l *UDPLeg) Start() {
	go l.readLoop()
	go l.rtcpLoop()
}

func (l *UDPLeg) readLoop() {
	buf := make([]byte, MTU+1)
	for {
		n, src, err := l.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue // ICMP errors surface here on some systems; keep reading
		}
		if n > MTU || n < 12 {
			l.drop()
			continue
		}
		latched := l.latched.Load()
		if latched {
			if r := l.remote.Load(); r == nil || (r.Addr() != src.Addr().Unmap() || r.Port() != src.Port()) {
				l.drop()
				continue
			}
		}
		switch l.parse(buf[:n]) {
		case verdictBad:
			continue
		case verdictOther:
			// Comfort noise from the far end still proves it is alive,
			// but only audio or events may latch: a scanner's probe or a
			// stray datagram must not take the stream.
			if latched {
				l.lastRecv.Store(time.Now().UnixNano())
			}
			continue
		}
		if !latched {
			p := netip.AddrPortFrom(src.Addr().Unmap(), src.Port())
			l.remote.Store(&p)
			l.latched.Store(true)
		}
		l.lastRecv.Store(time.Now().UnixNano())
		l.forward()
	}
}

func (l *UDPLeg) rtcpLoop() {
	buf := make([]byte, MTU)
	for {
		if _, _, err := l.rtcpConn.ReadFromUDPAddrPort(buf); err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		// Reports are counted, not acted on: a bridge relays, it does not
		// adapt bitrate.
		l.rtcpRecv.Add(1)
	}
}

// send is the Writer's transport: marshal into the leg's buffer and send
// to the (latched) remote. Called with the Writer's mutex held.
func (l *UDPLeg) send(h *rtp.Header, payload []byte) error {
	r := l.remote.Load()
	if r == nil {
		return errNoRemote
	}
	n, err := h.MarshalTo(l.wbuf)
	if err != nil {
		return err
	}
	n += copy(l.wbuf[n:], payload)
	l.octetsSent.Add(uint64(len(payload)))
	_, err = l.conn.WriteToUDPAddrPort(l.wbuf[:n], *r)
	return err
}

var errNoRemote = errors.New("no remote RTP address yet")

// SendReport sends an RTCP sender report to the far end's RTCP port (RTP
// port + 1), so trunks that watch RTCP see a live stream.
func (l *UDPLeg) SendReport(now time.Time) {
	r := l.remote.Load()
	if r == nil || l.Writer.Sent() == 0 {
		return
	}
	sr := rtcp.SenderReport{
		SSRC:        l.Writer.ssrcValue(),
		NTPTime:     ntpTime(now),
		RTPTime:     l.Writer.LastTimestamp(),
		PacketCount: uint32(l.Writer.Sent()),
		OctetCount:  uint32(l.octetsSent.Load()),
	}
	b, err := sr.Marshal()
	if err != nil {
		return
	}
	_, _ = l.rtcpConn.WriteToUDPAddrPort(b, netip.AddrPortFrom(r.Addr(), r.Port()+1))
}

// RTCPReceived counts RTCP packets from the far end.
func (l *UDPLeg) RTCPReceived() uint64 { return l.rtcpRecv.Load() }

// Close stops the loops and frees the ports. Idempotent.
func (l *UDPLeg) Close() {
	l.closeOnce.Do(func() {
		l.Reader.Sink.Store(nil)
		_ = l.conn.Close()
		_ = l.rtcpConn.Close()
		if l.ports != nil {
			l.ports.Release(l.conn)
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
