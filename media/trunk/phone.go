package trunk

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"github.com/ringbridge/ringbridge/media/rtpio"
)

// Phone is a small SIP endpoint: it places calls (ringbridge dial), takes
// them (a stand-in carrier for trying outbound calls without one), and
// sends and receives audio and RFC 4733 digits. It plays the far end in
// the integration tests, over real sockets.
type Phone struct {
	cfg      PhoneConfig
	log      *slog.Logger
	ua       *sipgo.UserAgent
	srv      *sipgo.Server
	clients  *clients
	conn     net.PacketConn
	tcp      net.Listener
	addr     netip.AddrPort
	ports    *rtpio.Ports
	incoming chan *PhoneCall

	mu            sync.Mutex
	calls         map[string]*PhoneCall
	registrations []Registration
	wg            sync.WaitGroup
}

// PhoneConfig configures a Phone.
type PhoneConfig struct {
	// Listen is the UDP address for SIP (default 127.0.0.1:0).
	Listen string
	// User is the SIP user in From and Contact (default "phone").
	User string
	// Codec offered or accepted first (default PCMU).
	Codec rtpio.Codec
	// NoTelephoneEvent leaves RFC 4733 out of our SDP.
	NoTelephoneEvent bool
	// Realm, Username and Password make the phone challenge incoming
	// INVITEs with digest authentication, as carriers do.
	Realm, Username, Password string
	Log                       *slog.Logger
}

// NewPhone starts a phone listening on cfg.Listen.
func NewPhone(cfg PhoneConfig) (*Phone, error) {
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:0"
	}
	if cfg.User == "" {
		cfg.User = "phone"
	}
	if cfg.Codec == rtpio.CodecNone {
		cfg.Codec = rtpio.CodecPCMU
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	conn, err := net.ListenPacket("udp", cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("phone listen: %w", err)
	}
	ap := conn.LocalAddr().(*net.UDPAddr).AddrPort()
	p := &Phone{cfg: cfg, log: cfg.Log, conn: conn, addr: netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()),
		incoming: make(chan *PhoneCall, 16), calls: map[string]*PhoneCall{}}
	if p.ports, err = rtpio.NewPorts(p.addr.Addr(), 30000, 40000); err != nil {
		conn.Close()
		return nil, err
	}
	if p.ua, err = newUA("ringbridge-phone", p.log, nil); err != nil {
		conn.Close()
		return nil, err
	}
	p.srv, _ = sipgo.NewServer(p.ua, sipgo.WithServerLogger(p.log))
	contact := sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: cfg.User, Host: p.addr.Addr().String(), Port: int(p.addr.Port())}}
	if p.clients, err = newClients(p.ua, p.addr.Addr().String(), p.addr.String(), contact, p.log); err != nil {
		conn.Close()
		return nil, err
	}
	p.srv.OnInvite(p.onInvite)
	p.srv.OnAck(func(req *sip.Request, tx sip.ServerTransaction) {
		if c := p.call(req); c != nil && c.srv != nil {
			_ = c.srv.ReadAck(req, tx)
		}
	})
	p.srv.OnBye(func(req *sip.Request, tx sip.ServerTransaction) {
		c := p.call(req)
		if c == nil {
			respond(tx, req, sip.StatusCallTransactionDoesNotExists, "Call/Transaction Does Not Exist")
			return
		}
		if c.srv != nil {
			_ = c.srv.ReadBye(req, tx)
		} else {
			_ = c.cli.ReadBye(req, tx)
		}
		c.end("remote_bye")
	})
	p.srv.OnRegister(p.onRegister)
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		_ = p.srv.ServeUDP(conn)
	}()
	// SIP over TCP on the same port number, when it is free, so the
	// phone can play a TCP trunk too.
	if ln, err := net.Listen("tcp", p.addr.String()); err == nil {
		p.tcp = ln
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			_ = p.srv.ServeTCP(ln)
		}()
	}
	waitListening(p.ua, conn)
	return p, nil
}

// Addr is the phone's SIP address.
func (p *Phone) Addr() netip.AddrPort { return p.addr }

// Incoming delivers calls offered to the phone, already answered with 180.
func (p *Phone) Incoming() <-chan *PhoneCall { return p.incoming }

// Close hangs up every call and stops the phone.
func (p *Phone) Close() error {
	p.mu.Lock()
	calls := make([]*PhoneCall, 0, len(p.calls))
	for _, c := range p.calls {
		calls = append(calls, c)
	}
	p.mu.Unlock()
	for _, c := range calls {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_ = c.Hangup(ctx)
		cancel()
	}
	_ = p.srv.Close()
	p.clients.close()
	_ = p.ua.Close()
	_ = p.conn.Close()
	if p.tcp != nil {
		_ = p.tcp.Close()
	}
	p.wg.Wait()
	return nil
}

func (p *Phone) call(req *sip.Request) *PhoneCall {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.calls[callIDOf(req)]
}

func (p *Phone) ourFormat() rtpio.Format {
	f := rtpio.Format{Codec: p.cfg.Codec, AudioPT: 0, EventPT: defaultEventPT}
	if p.cfg.Codec == rtpio.CodecPCMA {
		f.AudioPT = 8
	}
	if p.cfg.NoTelephoneEvent {
		f.EventPT = 0
	}
	return f
}

// offerSDP lists only our configured codec, so tests can force PCMA.
func (p *Phone) offerSDP(c *PhoneCall) []byte {
	return buildSDP(c.sessID, c.version.Add(1), c.media.LocalAddr(), p.ourFormat(), false, "sendrecv")
}

// Dial calls target (e.g. "sip:1001@127.0.0.1:5060") from user and waits
// for the answer. A non-2xx final response is returned as *DialError.
func (p *Phone) Dial(ctx context.Context, target, fromUser string) (*PhoneCall, error) {
	var uri sip.Uri
	if err := sip.ParseUri(target, &uri); err != nil {
		return nil, fmt.Errorf("target %q: %w", target, err)
	}
	c, err := p.newCall()
	if err != nil {
		return nil, err
	}
	req := sip.NewRequest(sip.INVITE, uri)
	if uri.UriParams != nil {
		if tr, ok := uri.UriParams.Get("transport"); ok && tr != "" {
			req.SetTransport(strings.ToUpper(tr))
		}
	}
	from := &sip.FromHeader{Address: sip.Uri{Scheme: "sip", User: fromUser, Host: p.addr.Addr().String()}, Params: tagParams()}
	req.AppendHeader(from)
	req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	req.SetBody(p.offerSDP(c))
	dc := newDialContext(ctx)
	go func() { <-c.done; dc.done() }()
	dlg, err := p.clients.dialogUA(req.Transport()).WriteInvite(dc.ctx, req)
	if err != nil {
		c.end("dial_failed")
		return nil, err
	}
	c.cli = dlg
	c.callID = callIDOf(dlg.InviteRequest)
	p.track(c)
	err = dlg.WaitAnswer(dc.ctx, sipgo.AnswerOptions{Username: p.cfg.Username, Password: p.cfg.Password,
		OnResponse: func(res *sip.Response) error {
			c.lastStatus.Store(int32(res.StatusCode))
			dc.gotResponse()
			if res.StatusCode == sip.StatusRinging {
				c.ringing.Store(true)
			}
			return nil
		}})
	if err != nil {
		c.end("dial_failed")
		var de *sipgo.ErrDialogResponse
		if errors.As(err, &de) {
			return nil, &DialError{Status: de.Res.StatusCode, Reason: de.Res.Reason}
		}
		return nil, err
	}
	rm, err := parseSDP(dlg.InviteResponse.Body())
	if err != nil {
		_ = dlg.Ack(ctx)
		_ = c.Hangup(ctx)
		return nil, err
	}
	c.media.SetFormat(rm.format)
	c.media.SetRemote(rm.addr)
	if err := dlg.Ack(ctx); err != nil {
		return nil, err
	}
	go c.watch(dlg.Context())
	return c, nil
}

// DialError is a call refused with a final SIP response.
type DialError struct {
	Status int
	Reason string
}

func (e *DialError) Error() string { return fmt.Sprintf("call refused: %d %s", e.Status, e.Reason) }

func (p *Phone) newCall() (*PhoneCall, error) {
	rtpConn, rtcpConn, err := p.ports.Allocate()
	if err != nil {
		return nil, err
	}
	c := &PhoneCall{phone: p, sessID: rand.Uint64() >> 1, done: make(chan struct{})}
	c.media = rtpio.NewUDPLeg(rtpConn, rtcpConn, p.ports, p.ourFormat())
	c.media.Reader.Sink.Store(c)
	c.media.Start()
	return c, nil
}

func (p *Phone) track(c *PhoneCall) {
	p.mu.Lock()
	p.calls[c.callID] = c
	p.mu.Unlock()
}

func (p *Phone) onInvite(req *sip.Request, tx sip.ServerTransaction) {
	if to := req.To(); to != nil {
		if tag, _ := to.Params.Get("tag"); tag != "" {
			if c := p.call(req); c != nil {
				c.answerReinvite(req, tx)
				return
			}
			respond(tx, req, sip.StatusCallTransactionDoesNotExists, "Call/Transaction Does Not Exist")
			return
		}
	}
	if p.cfg.Password != "" && !p.authorized(req, tx) {
		return
	}
	rm, err := parseSDP(req.Body())
	if err != nil {
		status, reason := sdpErrorStatus(err)
		respond(tx, req, status, reason)
		return
	}
	dlg, err := p.clients.dialogUA(req.Transport()).ReadInvite(req, tx)
	if err != nil {
		respond(tx, req, sip.StatusBadRequest, "Bad Request")
		return
	}
	c, err := p.newCall()
	if err != nil {
		_ = dlg.Respond(sip.StatusServiceUnavailable, "Service Unavailable", nil)
		return
	}
	c.srv, c.callID, c.offer = dlg, callIDOf(req), rm
	c.To = requestUser(req)
	c.From = userOf(req.From())
	c.media.SetRemote(rm.addr)
	// Answer in the codec the offer prefers if we have it; PCMA-only
	// phones answer PCMA.
	f := rm.format
	if p.cfg.Codec == rtpio.CodecPCMA && f.Codec != rtpio.CodecPCMA && hasPCMA(req.Body()) {
		f.Codec, f.AudioPT = rtpio.CodecPCMA, 8
	}
	if p.cfg.NoTelephoneEvent {
		f.EventPT = 0
	}
	c.media.SetFormat(f)
	p.track(c)
	_ = dlg.Respond(sip.StatusRinging, "Ringing", nil)
	select {
	case p.incoming <- c:
	default:
		_ = dlg.Respond(sip.StatusBusyHere, "Busy Here", nil)
		c.end("busy")
		return
	}
	go c.watch(dlg.Context())
	<-c.done
}

func hasPCMA(body []byte) bool {
	return bytes.Contains(bytes.ToUpper(body), []byte("PCMA/8000"))
}

// Registration is a REGISTER the phone accepted (acting as a registrar).
type Registration struct {
	User    string
	Contact string
	Expires int
}

// Registrations returns the REGISTERs accepted so far, oldest first.
func (p *Phone) Registrations() []Registration {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Registration(nil), p.registrations...)
}

// onRegister plays a registrar: it challenges like a carrier when a
// password is configured and grants a short expiry so refreshes happen.
func (p *Phone) onRegister(req *sip.Request, tx sip.ServerTransaction) {
	if p.cfg.Password != "" && !p.authorized(req, tx) {
		return
	}
	reg := Registration{User: userOf(req.From()), Expires: 2}
	if c := req.Contact(); c != nil {
		reg.Contact = c.Address.String()
	}
	if h := req.GetHeader("Expires"); h != nil && h.Value() == "0" {
		reg.Expires = 0
	}
	p.mu.Lock()
	p.registrations = append(p.registrations, reg)
	p.mu.Unlock()
	res := sip.NewResponseFromRequest(req, sip.StatusOK, "OK", nil)
	res.AppendHeader(sip.NewHeader("Expires", strconv.Itoa(reg.Expires)))
	_ = tx.Respond(res)
}
