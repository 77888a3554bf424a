// Package trunk owns the SIP side of the voice path (sipgo): listening for
// INVITEs from configured trunks, placing calls through them with digest
// authentication, registering where a provider needs it, and the RTP
// socket of every SIP leg. It is the only importer of sipgo.
//
// # Concurrency
//
// sipgo runs each request's handler on its own goroutine; an inbound
// INVITE's handler lives as long as its call. Every leg has one monitor
// goroutine that waits for the dialog to end, plus its RTP read loops.
// One watchdog goroutine per Trunks checks silence timeouts, sends RTCP
// reports and hold keep-alives for all legs; one reaper goroutine closes
// idle accepted TCP connections. The guard's read filter (rate limits,
// validation, CANCEL) runs on sipgo's UDP read loop, so it never blocks:
// the limiter is a mutex-guarded map, replies are single datagram writes.
// An inbound leg's media is created pending and gets its sockets from the
// INVITE's handler once cti has accepted the call; Answer waits for that.
//
// # Lifecycle
//
// New, then Serve on listeners; Close hangs up nothing (cti does that while
// draining) but stops the listeners, the watchdog, the reaper and
// registrations.
package trunk

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"github.com/ringbridge/ringbridge/cti"
	"github.com/ringbridge/ringbridge/media/rtpio"
)

// TrunkConfig is one SIP provider (or PBX) we exchange calls with.
type TrunkConfig struct {
	// Name identifies the trunk in logs and config.
	Name string `json:"name"`
	// Address is the provider's SIP host:port; outbound INVITEs go there.
	Address string `json:"address"`
	// Transport is "udp" (default) or "tcp".
	Transport string `json:"transport"`
	// AllowFrom lists IPs or CIDRs allowed to send us INVITEs on this
	// trunk. Empty means the IP of Address.
	AllowFrom []string `json:"allowFrom"`
	// Username and Password answer digest challenges (and REGISTER).
	Username string `json:"username"`
	Password string `json:"password"`
	// Domain is the From/Request-URI host (default: Address's host).
	Domain string `json:"domain"`
	// Register keeps a registration with the provider (for providers that
	// route inbound calls only to registered contacts).
	Register bool `json:"register"`
	// RegisterExpiry is asked of the registrar (default 300 s).
	RegisterExpiry time.Duration `json:"registerExpiry"`
	// CallerID replaces the agent's extension as the From user on
	// outbound calls (the tenant's public number).
	CallerID string `json:"callerId"`
	// CallerName is the display name in From and P-Asserted-Identity on
	// outbound calls (the tenant's name); empty sends none.
	CallerName string `json:"callerName"`
	// InDialogTarget says where BYE and re-INVITEs go: "contact" (RFC
	// 3261), "source" (where the far end's packets come from: a trunk
	// behind NAT) or "auto" (default: source when the Contact is a
	// private address other than the source's). See docs/sip.md, "NAT".
	InDialogTarget string `json:"inDialogTarget"`
	// EarlyMedia is "oneway" (default: before the answer the far end's
	// ringback or announcements reach the agent, but nothing of the agent
	// reaches the far end) or "twoway" (for carriers that need our RTP
	// before answering, e.g. to open their NAT or for IVRs that listen
	// during early media).
	EarlyMedia string `json:"earlyMedia"`
}

// Config is the SIP part of the configuration.
type Config struct {
	// Trunks we accept calls from and dial out through; the first is the
	// default for outbound calls.
	Trunks []TrunkConfig
	// MediaIP is the address RTP sockets bind to and the SDP announces
	// (unless PublicIP is set).
	MediaIP netip.Addr
	// PublicIP is announced in SDP and Contact when behind 1:1 NAT.
	PublicIP netip.Addr
	// RTPPortMin and RTPPortMax bound the RTP ports (default 10000-20000).
	RTPPortMin, RTPPortMax int
	// MediaTimeout hangs up an answered call after this long without RTP
	// from the far end (default 60 s; negative disables).
	MediaTimeout time.Duration
	// UserAgent is sent in User-Agent headers.
	UserAgent string
	// TCPIdleTimeout closes accepted TCP connections that carried nothing
	// for this long and serve no live call (default 30 s; negative keeps
	// them open).
	TCPIdleTimeout time.Duration
	// RateLimits bound requests per source IP.
	RateLimits RateLimits

	testLog *slog.Logger // replaces the logger in tests
}

// Trunks is the SIP stack.
type Trunks struct {
	cfg     Config
	log     *slog.Logger
	handler cti.InboundHandler
	ports   *rtpio.Ports

	// trunkMu guards trunks and serving: SetTrunks (runtime.go) replaces
	// the list while calls read it.
	trunkMu sync.RWMutex
	trunks  []*trunk
	serving bool

	ua      *sipgo.UserAgent
	srv     *sipgo.Server
	clients *clients

	udpConn net.PacketConn
	tcpLn   *idleListener
	limits  *limiter
	parser  *sip.Parser

	mu      sync.Mutex
	legs    map[string]*leg // by SIP Call-ID
	contact sip.ContactHeader
	sipPort int

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

type trunk struct {
	TrunkConfig
	host  string
	port  int
	allow []netip.Prefix
	// stopRegister ends this trunk's registration loop (nil: none).
	stopRegister context.CancelFunc
}

// New builds the SIP stack; handler receives accepted inbound calls.
func New(cfg Config, handler cti.InboundHandler, log *slog.Logger) (*Trunks, error) {
	if cfg.RTPPortMin == 0 {
		cfg.RTPPortMin, cfg.RTPPortMax = 10000, 20000
	}
	if cfg.MediaTimeout == 0 {
		cfg.MediaTimeout = 60 * time.Second
	}
	if cfg.UserAgent == "" {
		cfg.UserAgent = "ringbridge"
	}
	if cfg.TCPIdleTimeout == 0 {
		cfg.TCPIdleTimeout = 30 * time.Second
	}
	if !cfg.MediaIP.IsValid() {
		cfg.MediaIP = netip.IPv4Unspecified()
	}
	ports, err := rtpio.NewPorts(cfg.MediaIP, cfg.RTPPortMin, cfg.RTPPortMax)
	if err != nil {
		return nil, err
	}
	if cfg.testLog != nil {
		log = cfg.testLog
	}
	t := &Trunks{cfg: cfg, log: log, handler: handler, ports: ports, legs: map[string]*leg{}, parser: sip.NewParser()}
	t.limits = newLimiter(cfg.RateLimits, t.onRateLimited)
	for _, tc := range cfg.Trunks {
		tr, err := parseTrunk(tc)
		if err != nil {
			return nil, err
		}
		t.trunks = append(t.trunks, tr)
	}
	t.ua, err = newUA(cfg.UserAgent, log, t.readFilter)
	if err != nil {
		return nil, fmt.Errorf("sip user agent: %w", err)
	}
	if t.srv, err = sipgo.NewServer(t.ua, sipgo.WithServerLogger(log)); err != nil {
		return nil, fmt.Errorf("sip server: %w", err)
	}
	t.srv.OnInvite(t.guarded(t.onInvite))
	t.srv.OnAck(t.guarded(t.onAck))
	t.srv.OnBye(t.guarded(t.onBye))
	t.srv.OnOptions(t.guarded(t.onOptions))
	t.srv.OnInfo(t.guarded(t.onInfo))
	t.srv.OnCancel(t.guarded(t.onCancel))
	t.srv.OnNoRoute(t.guarded(t.onUnknownMethod))
	t.ctx, t.cancel = context.WithCancel(context.Background())
	return t, nil
}

func parseTrunk(tc TrunkConfig) (*trunk, error) {
	host, portStr, err := net.SplitHostPort(tc.Address)
	if err != nil {
		host, portStr = tc.Address, "5060"
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || host == "" {
		return nil, fmt.Errorf("trunk %s: bad address %q", tc.Name, tc.Address)
	}
	if !validInDialogTarget(tc.InDialogTarget) {
		return nil, fmt.Errorf("trunk %s: inDialogTarget %q: want contact, source or auto", tc.Name, tc.InDialogTarget)
	}
	switch tc.EarlyMedia {
	case "", EarlyMediaOneWay, EarlyMediaTwoWay:
	default:
		return nil, fmt.Errorf("trunk %s: earlyMedia %q: want oneway or twoway", tc.Name, tc.EarlyMedia)
	}
	tr := &trunk{TrunkConfig: tc, host: host, port: port}
	if tr.Transport == "" {
		tr.Transport = "udp"
	}
	if tr.Domain == "" {
		tr.Domain = host
	}
	if tr.RegisterExpiry == 0 {
		tr.RegisterExpiry = 300 * time.Second
	}
	allow := tc.AllowFrom
	if len(allow) == 0 {
		ips, err := net.LookupIP(host)
		if err != nil {
			return nil, fmt.Errorf("trunk %s: resolving %s: %w", tc.Name, host, err)
		}
		for _, ip := range ips {
			allow = append(allow, ip.String())
		}
	}
	for _, a := range allow {
		p, err := netip.ParsePrefix(a)
		if err != nil {
			ip, err2 := netip.ParseAddr(a)
			if err2 != nil {
				return nil, fmt.Errorf("trunk %s: allowFrom %q is neither IP nor CIDR", tc.Name, a)
			}
			p = netip.PrefixFrom(ip.Unmap(), ip.Unmap().BitLen())
		}
		tr.allow = append(tr.allow, p)
	}
	return tr, nil
}

// Serve runs SIP on an already-bound UDP socket and TCP listener (either
// may be nil). It returns once both are being served.
func (t *Trunks) Serve(udp net.PacketConn, tcp net.Listener) error {
	var host netip.Addr
	switch {
	case udp != nil:
		ap := udp.LocalAddr().(*net.UDPAddr).AddrPort()
		host, t.sipPort = ap.Addr().Unmap(), int(ap.Port())
	case tcp != nil:
		ap := tcp.Addr().(*net.TCPAddr).AddrPort()
		host, t.sipPort = ap.Addr().Unmap(), int(ap.Port())
	default:
		return errors.New("sip: nothing to serve on")
	}
	t.udpConn = udp
	if tcp != nil {
		t.tcpLn = newIdleListener(tcp)
	}
	adv := t.advertisedIP(host)
	t.contact = sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: "ringbridge", Host: adv.String(), Port: t.sipPort}}
	var udpAddr string
	if udp != nil {
		udpAddr = udp.LocalAddr().String()
	}
	var err error
	if t.clients, err = newClients(t.ua, adv.String(), udpAddr, t.contact, t.log); err != nil {
		return fmt.Errorf("sip client: %w", err)
	}
	if udp != nil {
		t.goServe(func() error { return t.srv.ServeUDP(udp) })
		waitListening(t.ua, udp)
	}
	if tcp != nil {
		t.goServe(func() error { return t.srv.ServeTCP(t.tcpLn) })
		if t.cfg.TCPIdleTimeout > 0 {
			t.wg.Add(1)
			go t.reapIdleTCP()
		}
	}
	t.wg.Add(1)
	go t.watchdog()
	t.trunkMu.Lock()
	t.serving = true
	t.startRegistrationsLocked(t.trunks)
	t.trunkMu.Unlock()
	return nil
}

func (t *Trunks) goServe(f func() error) {
	t.wg.Add(1)
	go func() {
		defer t.wg.Done()
		if err := f(); err != nil && t.ctx.Err() == nil && !errors.Is(err, net.ErrClosed) {
			t.log.Error("sip listener stopped", "err", err)
		}
	}()
}

// advertisedIP is the address put in Contact and SDP.
func (t *Trunks) advertisedIP(bound netip.Addr) netip.Addr {
	switch {
	case t.cfg.PublicIP.IsValid():
		return t.cfg.PublicIP
	case t.cfg.MediaIP.IsValid() && !t.cfg.MediaIP.IsUnspecified():
		return t.cfg.MediaIP
	case bound.IsValid() && !bound.IsUnspecified():
		return bound
	}
	// Ask the routing table which local address reaches the first trunk;
	// connecting a UDP socket sends nothing.
	if trunks := t.trunkList(); len(trunks) > 0 {
		if c, err := net.Dial("udp", net.JoinHostPort(trunks[0].host, strconv.Itoa(trunks[0].port))); err == nil {
			defer c.Close()
			return c.LocalAddr().(*net.UDPAddr).AddrPort().Addr().Unmap()
		}
	}
	return netip.MustParseAddr("127.0.0.1")
}

// mediaAddr is the RTP address announced for a leg's socket.
func (t *Trunks) mediaAddr(l *rtpio.UDPLeg) netip.AddrPort {
	return netip.AddrPortFrom(t.advertisedIP(l.LocalAddr().Addr()), l.LocalAddr().Port())
}

// trunkForSource returns the trunk whose allow list covers src ("ip:port").
func (t *Trunks) trunkForSource(src string) *trunk {
	ap, err := netip.ParseAddrPort(src)
	if err != nil {
		return nil
	}
	ip := ap.Addr().Unmap()
	for _, tr := range t.trunkList() {
		for _, p := range tr.allow {
			if p.Contains(ip) {
				return tr
			}
		}
	}
	return nil
}

// reapIdleTCP closes idle accepted TCP connections, checking four times
// per timeout.
func (t *Trunks) reapIdleTCP() {
	defer t.wg.Done()
	tick := time.NewTicker(max(t.cfg.TCPIdleTimeout/4, 10*time.Millisecond))
	defer tick.Stop()
	for {
		select {
		case <-t.ctx.Done():
			return
		case now := <-tick.C:
			if n := t.tcpLn.reap(now, t.cfg.TCPIdleTimeout, t.dialogOver); n > 0 {
				t.log.Info("closed idle SIP TCP connections", "count", n, "idle", t.cfg.TCPIdleTimeout)
			}
		}
	}
}

// dialogOver reports whether a live call's dialog came in over the TCP
// connection from remote: its in-dialog requests must be able to use it.
func (t *Trunks) dialogOver(remote string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, l := range t.legs {
		if l.srv != nil && isStream(l.srv.InviteRequest.Transport()) && l.srv.InviteRequest.Source() == remote {
			return true
		}
	}
	return false
}

// ContactAddr is host:port of our Contact: where peers reach this stack.
func (t *Trunks) ContactAddr() string {
	return net.JoinHostPort(t.contact.Address.Host, strconv.Itoa(t.contact.Address.Port))
}

// OpenTCPConns returns how many accepted SIP TCP connections are open.
func (t *Trunks) OpenTCPConns() int {
	if t.tcpLn == nil {
		return 0
	}
	return t.tcpLn.open()
}

// ActiveLegs returns how many SIP legs are up.
func (t *Trunks) ActiveLegs() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.legs)
}

// Close stops the stack.
func (t *Trunks) Close() error {
	// Under trunkMu so that SetTrunks starts no registration after this.
	t.trunkMu.Lock()
	t.cancel()
	t.serving = false
	t.trunkMu.Unlock()
	t.mu.Lock()
	legs := make([]*leg, 0, len(t.legs))
	for _, l := range t.legs {
		legs = append(legs, l)
	}
	t.mu.Unlock()
	for _, l := range legs {
		l.finish(cti.EndShutdown)
	}
	err := t.srv.Close()
	// sipgo does not close sockets it was handed.
	if t.udpConn != nil {
		_ = t.udpConn.Close()
	}
	if t.tcpLn != nil {
		_ = t.tcpLn.Close()
	}
	if t.clients != nil {
		t.clients.close()
	}
	_ = t.ua.Close()
	t.wg.Wait()
	return err
}

func (t *Trunks) addLeg(l *leg) {
	t.mu.Lock()
	t.legs[l.callID] = l
	t.mu.Unlock()
}

func (t *Trunks) removeLeg(l *leg) {
	t.mu.Lock()
	if t.legs[l.callID] == l {
		delete(t.legs, l.callID)
	}
	t.mu.Unlock()
}

func (t *Trunks) legFor(req *sip.Request) *leg {
	id := req.CallID()
	if id == nil {
		return nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.legs[id.Value()]
}

// watchdog hangs up answered legs whose far end went silent (a dead
// trunk, a crashed phone) and sends RTCP sender reports, for every leg
// from one goroutine.
func (t *Trunks) watchdog() {
	defer t.wg.Done()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	var n int
	for {
		select {
		case <-t.ctx.Done():
			return
		case now := <-tick.C:
			n++
			t.mu.Lock()
			legs := make([]*leg, 0, len(t.legs))
			for _, l := range t.legs {
				legs = append(legs, l)
			}
			t.mu.Unlock()
			for _, l := range legs {
				// Fired once per leg: the next tick must not start a second
				// BYE while the first is still being retransmitted.
				if t.cfg.MediaTimeout > 0 && l.silent(now, t.cfg.MediaTimeout) && l.timedOut.CompareAndSwap(false, true) {
					l.log.Warn("no RTP from far end; hanging up", "timeout", t.cfg.MediaTimeout)
					go l.hangupWith(cti.EndMediaTimeout)
				}
				l.sendKeepAlive(now)
				if n%5 == 0 {
					l.media.SendReport(now)
				}
			}
		}
	}
}

// drainer is a handler that may be draining (cti.Service).
type drainer interface{ Draining() bool }

// allowedMethods are the requests we handle.
const allowedMethods = "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO"

// supportedExtensions lists the option tags we implement (none beyond
// RFC 3261 itself); a Require naming anything else gets 420.
const supportedExtensions = ""

// contactFor is our Contact header for a dialog over transport.
func (t *Trunks) contactFor(transport string) *sip.ContactHeader {
	if t.clients == nil {
		return &t.contact
	}
	return t.clients.contact(transport)
}

// identify adds User-Agent and Allow to requests we originate.
func (t *Trunks) identify(req *sip.Request) {
	req.AppendHeader(sip.NewHeader("User-Agent", t.cfg.UserAgent))
	req.AppendHeader(sip.NewHeader("Allow", allowedMethods))
}

func (t *Trunks) onOptions(req *sip.Request, tx sip.ServerTransaction) {
	if d, ok := t.handler.(drainer); ok && d.Draining() {
		// A front door probing us (docs/scale-out.md) sends new calls to
		// other nodes while this one drains.
		res := sip.NewResponseFromRequest(req, sip.StatusServiceUnavailable, "Service Unavailable: draining", nil)
		res.AppendHeader(sip.NewHeader("Retry-After", "30"))
		_ = tx.Respond(res)
		return
	}
	res := sip.NewResponseFromRequest(req, sip.StatusOK, "OK", nil)
	res.AppendHeader(sip.NewHeader("Allow", allowedMethods))
	res.AppendHeader(sip.NewHeader("Server", t.cfg.UserAgent))
	_ = tx.Respond(res)
}

func (t *Trunks) onAck(req *sip.Request, tx sip.ServerTransaction) {
	if l := t.legFor(req); l != nil && l.srv != nil {
		_ = l.srv.ReadAck(req, tx)
		l.onAckBody(req)
	} else if l != nil {
		l.onAckBody(req)
	}
}

func (t *Trunks) onBye(req *sip.Request, tx sip.ServerTransaction) {
	l := t.legFor(req)
	if l == nil {
		_ = tx.Respond(sip.NewResponseFromRequest(req, sip.StatusCallTransactionDoesNotExists, "Call/Transaction Does Not Exist", nil))
		return
	}
	l.setReason(cti.EndRemoteHangup)
	var err error
	if l.srv != nil {
		err = l.srv.ReadBye(req, tx)
	} else {
		err = l.cli.ReadBye(req, tx)
	}
	if err != nil {
		l.log.Debug("reading BYE", "err", err)
		_ = tx.Respond(sip.NewResponseFromRequest(req, sip.StatusCallTransactionDoesNotExists, "Call/Transaction Does Not Exist", nil))
	}
	l.finish(cti.EndRemoteHangup)
}

// waitListening waits until sipgo has registered the UDP listener, so the
// first request we send goes out from it rather than from a new socket.
func waitListening(ua *sipgo.UserAgent, conn net.PacketConn) {
	deadline := time.Now().Add(2 * time.Second)
	for time.Now().Before(deadline) {
		if c, err := ua.TransportLayer().GetConnection("udp", conn.LocalAddr().String()); err == nil && c != nil {
			return
		}
		time.Sleep(time.Millisecond)
	}
}

// newUA builds a sipgo user agent whose layers log through our logger:
// sipgo's default logs whole unparseable datagrams at error level, so junk
// traffic would flood the log.
func newUA(name string, log *slog.Logger, filter sip.TransportReadFilter) (*sipgo.UserAgent, error) {
	quiet := log.With("sip_layer", true)
	tpOpts := []sip.TransportLayerOption{sip.WithTransportLayerLogger(quiet)}
	if filter != nil {
		tpOpts = append(tpOpts, sip.WithTransportLayerReadFilter(filter))
	}
	return sipgo.NewUA(sipgo.WithUserAgent(name),
		sipgo.WithUserAgentTransportLayerOptions(tpOpts...),
		sipgo.WithUserAgentTransactionLayerOptions(sip.WithTransactionLayerLogger(quiet)))
}

// RTPPorts reports the RTP port allocator's counters: pairs in use now and
// pairs handed out since start.
func (t *Trunks) RTPPorts() (inUse int, allocations uint64) {
	return t.ports.InUse(), t.ports.Allocations()
}
