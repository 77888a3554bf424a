// Package peer owns the WebRTC side of the voice path: one API shared by
// every agent (one UDP port for all ICE traffic, ICE-TCP as a fallback,
// 1:1 NAT addresses) and one endpoint per agent session, created at
// sign-in and reused for every call.
//
// Two stacks implement the endpoint. The default, "lite", is the
// server's own: an ICE-lite agent on the shared sockets, a DTLS handshake
// (pion/dtls) only to agree the SRTP keys, SRTP (pion/srtp contexts) and
// RTCP of its own (litenet.go, liteendpoint.go). The other, "pion", is a
// full pion PeerConnection per session (endpoint.go), kept as a fallback
// for networks the lite agent has not met. The Go test client (client.go)
// is always a pion PeerConnection, like a browser.
//
// # Concurrency
//
// API is safe for concurrent use, and so are an endpoint's signalling
// methods. Lite: the media pollers (rtpio.PollUDP) read the shared
// sockets (elsewhere than Linux, a read goroutine per socket owned by
// the API) and decrypt and deliver every session's media inline; one
// socket is read by one poller at a time (an ICE-TCP
// connection has a reader and a writer of its own); a session has a
// goroutine only during its DTLS handshake and while it plays DTMF, and
// receives under its own lock, since during a path change two readers
// may carry its packets. Pion: one read goroutine per remote track,
// owned by the Endpoint and ended by Close. Every session's RTCP reports
// are sent by one goroutine owned by the API (reports.go), ended by
// API.Close.
package peer

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/webrtc/v4"
	"github.com/ringbridge/ringbridge/cti"
)

// Config is the WebRTC part of the configuration.
type Config struct {
	// ListenIP is the address ICE sockets bind to (default all).
	ListenIP string
	// UDPPort is the single UDP port all agents' ICE and media share.
	UDPPort int
	// TCPPort is the ICE-TCP fallback port (0 disables) for networks that
	// block UDP.
	TCPPort int
	// PublicIPs are announced instead of local addresses (1:1 NAT, e.g. a
	// cloud VM's public address).
	PublicIPs []string
	// IncludeLoopback offers 127.0.0.1 candidates (development and tests).
	IncludeLoopback bool
	// ReportInterval is how often each session sends its RTCP sender and
	// receiver reports while media flows (default 5 s, as Chrome does).
	ReportInterval time.Duration
	// Stack chooses the endpoint implementation: StackLite (default) or
	// StackPion.
	Stack string
}

// The endpoint stacks (see the package comment).
const (
	StackLite = "lite"
	StackPion = "pion"
)

// API builds PeerConnections that share the muxed sockets.
type API struct {
	api     *webrtc.API
	lite    *liteNet // the lite stack; nil with pion's
	udpPort int
	// publicIPs are announced instead of local addresses (lite stack).
	publicIPs []string
	tcpLn     net.Listener
	udpMux    ice.UDPMux
	tcpMux    ice.TCPMux
	log       *slog.Logger
	reports   *reporter
	// socks are the shared ICE UDP sockets, read in batches where the
	// platform can (batchconn_linux.go).
	socksMu sync.Mutex
	socks   []net.PacketConn
	// cert is the DTLS certificate of every agent session: generating an
	// ECDSA key per sign-in costs CPU and memory and buys nothing, since
	// browsers pin the fingerprint per session from the SDP anyway. It is
	// renewed before it expires (pion refuses expired ones).
	certMu   sync.Mutex
	cert     *webrtc.Certificate
	liteCert *liteCert
}

// liteCertificate returns the lite stack's shared DTLS certificate,
// renewing it when due.
func (a *API) liteCertificate() (*liteCert, error) {
	a.certMu.Lock()
	defer a.certMu.Unlock()
	if a.liteCert == nil || time.Until(a.liteCert.expires) < certRenewal {
		c, err := newLiteCert()
		if err != nil {
			return nil, err
		}
		a.liteCert = c
	}
	return a.liteCert, nil
}

// NewEndpoint creates the transport of one agent session.
func (a *API) NewEndpoint(id string, ev cti.AgentEndpointEvents) (cti.AgentEndpoint, error) {
	if a.lite != nil {
		return a.newLiteEndpoint(id, ev)
	}
	ep, err := a.newPionEndpoint(id, ev)
	if err != nil {
		return nil, err
	}
	return ep, nil
}

// certRenewal is how long before expiry the shared certificate is replaced.
const certRenewal = 48 * time.Hour

// certificate returns the shared DTLS certificate, renewing it when due.
func (a *API) certificate() (webrtc.Certificate, error) {
	a.certMu.Lock()
	defer a.certMu.Unlock()
	if a.cert == nil || time.Until(a.cert.Expires()) < certRenewal {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return webrtc.Certificate{}, fmt.Errorf("dtls key: %w", err)
		}
		cert, err := webrtc.GenerateCertificate(key)
		if err != nil {
			return webrtc.Certificate{}, fmt.Errorf("dtls certificate: %w", err)
		}
		a.cert = cert
	}
	return *a.cert, nil
}

// telephoneEventFmtp advertises the 16 DTMF events.
const telephoneEventFmtp = "0-16"

// New opens the shared ICE sockets.
func New(cfg Config, log *slog.Logger) (*API, error) {
	switch cfg.Stack {
	case "", StackLite:
		a := &API{log: log, publicIPs: cfg.PublicIPs}
		for _, ip := range cfg.PublicIPs {
			if _, err := netip.ParseAddr(ip); err != nil {
				return nil, fmt.Errorf("public IP %q: %w", ip, err)
			}
		}
		n, err := newLiteNet(cfg, log, a.addSocket)
		if err != nil {
			return nil, err
		}
		a.lite, a.udpPort = n, n.socks[0].port
		a.reports = newReporter(cfg.ReportInterval)
		return a, nil
	case StackPion:
		return newPion(cfg, log)
	default:
		return nil, fmt.Errorf("unknown WebRTC stack %q (want %q or %q)", cfg.Stack, StackLite, StackPion)
	}
}

// newPion builds the pion stack: a PeerConnection per session on pion's
// shared UDP and TCP muxes.
func newPion(cfg Config, log *slog.Logger) (*API, error) {
	me := &webrtc.MediaEngine{}
	// PCMU only toward browsers: every browser supports it, trunks relay
	// it without transcoding, and one codec means no per-call negotiation
	// surprises. PCMA trunks are converted by table lookup.
	if err := me.RegisterCodec(webrtc.RTPCodecParameters{
		RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypePCMU, ClockRate: 8000, Channels: 1},
		PayloadType:        0,
	}, webrtc.RTPCodecTypeAudio); err != nil {
		return nil, fmt.Errorf("register PCMU: %w", err)
	}
	if err := me.RegisterCodec(webrtc.RTPCodecParameters{
		RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: "audio/telephone-event", ClockRate: 8000, Channels: 1, SDPFmtpLine: telephoneEventFmtp},
		PayloadType:        101,
	}, webrtc.RTPCodecTypeAudio); err != nil {
		return nil, fmt.Errorf("register telephone-event: %w", err)
	}
	// No interceptors: NACK and congestion control buy nothing for
	// 64 kbit/s G.711 and cost CPU per packet, and the RTCP reports come
	// from one loop for all sessions (reports.go) instead of two
	// goroutines per PeerConnection.
	reg := &interceptor.Registry{}

	se := webrtc.SettingEngine{LoggerFactory: slogFactory{log}}
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetIncludeLoopbackCandidate(cfg.IncludeLoopback)
	se.SetICETimeouts(10*time.Second, 30*time.Second, 2*time.Second)
	if len(cfg.PublicIPs) > 0 {
		// 1:1 NAT: announce the public address instead of the local one.
		if err := se.SetICEAddressRewriteRules(webrtc.ICEAddressRewriteRule{
			External: cfg.PublicIPs, AsCandidateType: webrtc.ICECandidateTypeHost,
		}); err != nil {
			return nil, fmt.Errorf("public IPs %v: %w", cfg.PublicIPs, err)
		}
	}
	a := &API{log: log}
	if cfg.ListenIP == "" {
		// One socket per local address on the same port: a single socket
		// on 0.0.0.0 cannot tell which address a browser reached.
		bn, err := newBatchNet(a.addSocket)
		if err != nil {
			return nil, err
		}
		opts := []ice.UDPMuxFromPortOption{
			ice.UDPMuxFromPortWithNet(bn),
			ice.UDPMuxFromPortWithLogger(se.LoggerFactory.NewLogger("ice-udp")),
			ice.UDPMuxFromPortWithReadBufferSize(4 << 20),
			ice.UDPMuxFromPortWithWriteBufferSize(4 << 20),
		}
		if cfg.IncludeLoopback {
			opts = append(opts, ice.UDPMuxFromPortWithLoopback())
		}
		opts = append(opts, ice.UDPMuxFromPortWithIPFilter(func(ip net.IP) bool { return bindable(ip, log) }))
		mux, err := ice.NewMultiUDPMuxFromPort(cfg.UDPPort, opts...)
		if err != nil {
			return nil, fmt.Errorf("ice udp port %d: %w", cfg.UDPPort, err)
		}
		a.udpMux, a.udpPort = mux, cfg.UDPPort
	} else {
		udpAddr, err := net.ResolveUDPAddr("udp", net.JoinHostPort(cfg.ListenIP, strconv.Itoa(cfg.UDPPort)))
		if err != nil {
			return nil, fmt.Errorf("ice udp address: %w", err)
		}
		conn, err := net.ListenUDP("udp", udpAddr)
		if err != nil {
			return nil, fmt.Errorf("ice udp port: %w", err)
		}
		_ = conn.SetReadBuffer(4 << 20)
		_ = conn.SetWriteBuffer(4 << 20)
		bc, err := wrapICESocket(conn)
		if err != nil {
			_ = conn.Close()
			return nil, err
		}
		a.addSocket(bc)
		a.udpMux = webrtc.NewICEUDPMux(se.LoggerFactory.NewLogger("ice-udp"), bc)
		a.udpPort = conn.LocalAddr().(*net.UDPAddr).Port
	}
	se.SetICEUDPMux(a.udpMux)
	networks := []webrtc.NetworkType{webrtc.NetworkTypeUDP4, webrtc.NetworkTypeUDP6}
	if cfg.TCPPort > 0 {
		var err error
		a.tcpLn, err = net.Listen("tcp", net.JoinHostPort(cfg.ListenIP, strconv.Itoa(cfg.TCPPort)))
		if err != nil {
			_ = a.udpMux.Close()
			return nil, fmt.Errorf("ice tcp port: %w", err)
		}
		a.tcpMux = webrtc.NewICETCPMux(se.LoggerFactory.NewLogger("ice-tcp"), a.tcpLn, 32)
		se.SetICETCPMux(a.tcpMux)
		networks = append(networks, webrtc.NetworkTypeTCP4, webrtc.NetworkTypeTCP6)
	}
	se.SetNetworkTypes(networks)
	a.api = webrtc.NewAPI(webrtc.WithMediaEngine(me), webrtc.WithInterceptorRegistry(reg), webrtc.WithSettingEngine(se))
	a.reports = newReporter(cfg.ReportInterval)
	return a, nil
}

func (a *API) addSocket(c net.PacketConn) {
	a.socksMu.Lock()
	a.socks = append(a.socks, c)
	a.socksMu.Unlock()
}

// ICEReads counts the system calls that read the shared ICE UDP sockets
// and the datagrams they returned; datagrams/reads is the batching
// achieved (1 when nothing waits, up to 32 when the reader is behind).
// Both are 0 where the platform reads a datagram at a time.
func (a *API) ICEReads() (reads, datagrams uint64) {
	a.socksMu.Lock()
	defer a.socksMu.Unlock()
	for _, c := range a.socks {
		if b, d, ok := batchStats(c); ok {
			reads += b
			datagrams += d
		}
	}
	return reads, datagrams
}

// UDPPort returns the bound ICE UDP port.
func (a *API) UDPPort() int { return a.udpPort }

// Close releases the shared sockets (after every Endpoint is closed).
func (a *API) Close() error {
	a.reports.close()
	if a.lite != nil {
		a.lite.close()
		return nil
	}
	err := a.udpMux.Close()
	if a.tcpMux != nil {
		_ = a.tcpMux.Close()
	}
	return err
}

// bindable reports whether a UDP socket can be bound on ip right now. An
// address that cannot (an IPv6 address still tentative after an interface
// came up, one being removed) is skipped with a log line instead of
// failing the start: the mux would otherwise refuse to open at all.
func bindable(ip net.IP, log *slog.Logger) bool {
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: ip})
	if err != nil {
		log.Warn("skipping a local address that cannot be bound for ICE", "ip", ip.String(), "err", err)
		return false
	}
	_ = c.Close()
	return true
}
