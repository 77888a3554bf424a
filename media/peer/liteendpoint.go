package peer

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/ringbridge/ringbridge/cti"
	"github.com/ringbridge/ringbridge/media/rtpio"
)

var (
	_ cti.AgentEndpoint      = (*liteEndpoint)(nil)
	_ cti.MediaStatsReporter = (*liteEndpoint)(nil)
)

// Connection states reported through AgentEndpointEvents.OnConnectionState,
// named as the browser's RTCPeerConnection names them.
const (
	stateConnecting   = "connecting"
	stateConnected    = "connected"
	stateDisconnected = "disconnected"
	stateFailed       = "failed"
	stateClosed       = "closed"
)

// silenceDisconnected and silenceFailed are how long a session may send
// nothing (browsers check consent every 5 s) before it counts as
// disconnected or failed.
const (
	silenceDisconnected = 12 * time.Second
	silenceFailed       = 30 * time.Second
)

// liteEndpoint is one agent session's transport on the shared sockets:
// the server as an ICE-lite agent, DTLS only to agree the SRTP keys, SRTP
// and RTCP of its own. It has no goroutine while a call is up.
type liteEndpoint struct {
	id  string
	api *API
	net *liteNet
	log *slog.Logger
	ev  cti.AgentEndpointEvents

	reader  *rtpio.Reader
	writer  *rtpio.Writer
	reports rtpio.Reports // the browser's RTCP about our stream (quality)
	octets  atomic.Uint64 // payload bytes sent, for sender reports
	rep     reportCounts  // at the last report (reports.go)

	// path is where media goes: the nominated (or latest fresh) path.
	path atomic.Pointer[pathKey]
	keys atomic.Pointer[srtpKeys]
	// lastRecv is when the browser last sent anything (Unix ns), and
	// lastPathRecv when it last did on the current path.
	lastRecv, lastPathRecv atomic.Int64

	encMu sync.Mutex // guards keys.enc and the send buffer
	// cipher is where a packet is marshalled and then encrypted in place
	// (SRTP's ciphers allow it): one buffer per session instead of two.
	cipher []byte
	encHdr rtp.Header
	sender rtpio.Sender
	// rxMu serialises receiving: keys.dec, the reader and the reports.
	// A session is normally heard on one read loop, but during a path
	// change (or from a hostile client) on two.
	rxMu sync.Mutex

	mu         sync.Mutex // signalling: offers, paths, the handshake
	ufrag, pwd string     // ours, for the current offer
	oldUfrag   string     // the previous ICE generation's, still answered
	remoteFrag string
	fpAlg, fp  string // the browser's certificate, from its offer
	client     bool   // our DTLS role
	keyFP      string // the fingerprint the current keys were agreed with
	shim       *dtlsShim
	paths      []pathKey
	tids       [16]seenCheck
	tidNext    int
	nominated  bool
	cert       *liteCert // pinned at the first offer: the fingerprint must not change
	state      string
	// lingering is a passive handshake's shim waiting for the browser's
	// first SRTP (litedtls.go).
	lingering atomic.Pointer[dtlsShim]

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	closed atomic.Bool
}

func (a *API) newLiteEndpoint(id string, ev cti.AgentEndpointEvents) (*liteEndpoint, error) {
	ctx, cancel := context.WithCancel(context.Background())
	e := &liteEndpoint{
		id: id, api: a, net: a.lite, log: a.log, ev: ev,
		reader: rtpio.NewReader(pcmuFormat),
		cipher: make([]byte, rtpio.MTU+64),
		ctx:    ctx, cancel: cancel,
	}
	e.writer = rtpio.NewWriter(randomSSRC(), pcmuFormat, e.writeRTP)
	if ev.OnDTMF != nil {
		e.reader.OnDTMF(ev.OnDTMF)
	}
	a.reports.add(e)
	return e, nil
}

func randomSSRC() uint32 {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

// iceChars are the characters of ICE credentials (RFC 8839 ice-char).
const iceChars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

func iceString(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = iceChars[int(b[i])%len(iceChars)]
	}
	return string(b)
}

// EndpointID implements cti.Endpoint.
func (e *liteEndpoint) EndpointID() string { return e.id }

// Reader is the browser-to-server half (a media source).
func (e *liteEndpoint) Reader() *rtpio.Reader { return e.reader }

// Writer is the server-to-browser half (a media sink).
func (e *liteEndpoint) Writer() *rtpio.Writer { return e.writer }

// HandleOffer answers an offer: the first one, a renegotiation or an ICE
// restart (new browser credentials: new ones of ours too, the previous
// ones still answered until the next restart, so checks in flight are
// not lost). A new browser certificate means a new DTLS handshake.
func (e *liteEndpoint) HandleOffer(_ context.Context, raw string) (string, error) {
	parsed, info, err := parseOffer(raw)
	if err != nil {
		return "", err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed.Load() {
		return "", errors.New("session closed")
	}
	if e.cert == nil {
		cert, err := e.api.liteCertificate()
		if err != nil {
			return "", err
		}
		e.cert = cert
	}
	cert := e.cert
	if e.ufrag == "" || info.ufrag != e.remoteFrag {
		if e.oldUfrag != "" {
			e.net.unregister(e.oldUfrag)
		}
		e.oldUfrag = e.ufrag
		e.ufrag, e.pwd = iceString(8), iceString(24)
		e.net.register(e.ufrag, e.pwd, e)
		e.remoteFrag = info.ufrag
	}
	if e.fp == "" {
		// The role is fixed by the first offer: a later offer's setup
		// cannot change it without a new handshake.
		e.client = info.setup != "active"
	}
	e.fpAlg, e.fp = info.fpAlg, info.fp
	f := pcmuFormat
	f.AudioPT, f.EventPT = info.pcmuPT, info.eventPT
	e.reader.SetFormat(f)
	e.writer.SetFormat(f)
	setup := "active"
	if !e.client {
		setup = "passive"
	}
	answer, err := buildAnswer(parsed, info, answerParams{
		sessionID: sessionID(e.id), version: uint64(time.Now().UnixNano()),
		ufrag: e.ufrag, pwd: e.pwd, fingerprint: cert.fp, setup: setup,
		ssrc: e.writer.SSRC(), cname: "ringbridge", streamID: "ringbridge", trackID: "audio",
		candidates: e.net.candidates(e.api.publicIPs),
	})
	if err != nil {
		return "", err
	}
	if e.state == "" {
		e.setStateLocked(stateConnecting)
	}
	e.maybeHandshakeLocked()
	return answer, nil
}

// sessionID is a stable o= session id for the endpoint's answers.
func sessionID(id string) uint64 {
	var h uint64 = 1469598103934665603
	for i := 0; i < len(id); i++ {
		h = (h ^ uint64(id[i])) * 1099511628211
	}
	return h >> 2
}

// AddICECandidate accepts the browser's trickled candidates. An ICE-lite
// agent does not check toward them (the browser checks toward us), so
// they are only validated.
func (e *liteEndpoint) AddICECandidate(c cti.ICECandidate) error {
	s := strings.TrimPrefix(c.Candidate, "a=")
	if s != "" && !strings.HasPrefix(s, "candidate:") {
		return fmt.Errorf("not an ICE candidate: %q", c.Candidate)
	}
	return nil
}

// SendDTMF plays RFC 4733 digits to the browser.
func (e *liteEndpoint) SendDTMF(digits string) error {
	// Under mu, so that Close (which marks closed before it takes mu and
	// waits after) never waits while a sender is being added.
	e.mu.Lock()
	if e.closed.Load() {
		e.mu.Unlock()
		return errors.New("session closed")
	}
	e.wg.Add(1)
	e.mu.Unlock()
	go func() {
		defer e.wg.Done()
		_ = e.writer.SendDTMF(e.ctx, digits)
	}()
	return nil
}

// checked records a passed connectivity check from p and reports whether
// it may be answered. The browser's nomination picks the media path;
// before it, and when the chosen path has gone quiet (a NAT rebinding, a
// network switch), the latest checked path takes over so audio follows
// the browser without a renegotiation. A check replayed from another
// address (same transaction, someone who captured it) is not answered
// and moves nothing.
func (e *liteEndpoint) checked(p pathKey, tid [12]byte, nominate bool) bool {
	now := time.Now()
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed.Load() {
		return false
	}
	for _, t := range e.tids {
		if t.id == tid {
			return t.path == p // a retransmission is answered, a replay is not
		}
	}
	e.tids[e.tidNext] = seenCheck{id: tid, path: p}
	e.tidNext = (e.tidNext + 1) % len(e.tids)
	if !e.net.addPath(p, e, now) {
		return false
	}
	cur := e.path.Load()
	known := false
	for _, q := range e.paths {
		known = known || q == p
	}
	if !known {
		if len(e.paths) >= maxPaths {
			// Forget the oldest path that does not carry the media.
			for i, q := range e.paths {
				if cur == nil || q != *cur {
					e.net.removePaths([]pathKey{q}, e)
					e.paths = append(e.paths[:i], e.paths[i+1:]...)
					break
				}
			}
		}
		e.paths = append(e.paths, p)
	}
	switch {
	case cur != nil && *cur == p:
		e.lastPathRecv.Store(now.UnixNano())
		if nominate {
			e.nominated = true
		}
	case cur == nil, nominate, !e.nominated, e.quiet():
		e.path.Store(&p)
		e.lastPathRecv.Store(now.UnixNano())
		e.nominated = e.nominated || nominate
		if cur != nil {
			e.log.Debug("agent media path changed", "session", e.id, "from", cur.String(), "to", p.String())
		}
	}
	e.lastRecv.Store(now.UnixNano())
	e.maybeHandshakeLocked()
	return true
}

// seenCheck is a recently answered check: its transaction and path.
type seenCheck struct {
	id   [12]byte
	path pathKey
}

// forget drops p as the media path after another session took it over
// (lock-free: it is called under the net's lock).
func (e *liteEndpoint) forget(p pathKey) {
	if cur := e.path.Load(); cur != nil && *cur == p {
		e.path.CompareAndSwap(cur, nil)
	}
}

// quiet reports whether the current path has carried nothing for a while.
func (e *liteEndpoint) quiet() bool {
	return time.Since(time.Unix(0, e.lastPathRecv.Load())) > stale
}

// heard notes that the browser sent something authentic on p.
func (e *liteEndpoint) heard(rt *route, p pathKey, now time.Time) {
	ns := now.UnixNano()
	e.lastRecv.Store(ns)
	rt.last.Store(ns)
	if cur := e.path.Load(); cur != nil && *cur == p {
		e.lastPathRecv.Store(ns)
	}
}

// pathGone forgets an ICE-TCP connection that closed.
func (e *liteEndpoint) pathGone(t *tcpPath) {
	e.mu.Lock()
	defer e.mu.Unlock()
	kept := e.paths[:0]
	for _, p := range e.paths {
		if p.tcp != t {
			kept = append(kept, p)
		}
	}
	e.paths = kept
	if cur := e.path.Load(); cur != nil && cur.tcp == t {
		e.path.Store(nil)
		e.nominated = false
		if len(kept) > 0 {
			last := kept[len(kept)-1]
			e.path.Store(&last)
		}
	}
}

// maybeHandshakeLocked starts the DTLS handshake once there is a path to
// run it on and a certificate to check, and again when the browser's
// certificate changed.
func (e *liteEndpoint) maybeHandshakeLocked() {
	if e.shim != nil || e.fp == "" || e.cert == nil || e.path.Load() == nil || e.ctx.Err() != nil {
		return
	}
	if e.keys.Load() != nil && e.keyFP == e.fp {
		return
	}
	e.keys.Store(nil)
	e.keyFP = e.fp
	e.shim = newDTLSShim(e)
	e.wg.Add(1)
	go e.handshake(e.shim, e.client, e.cert, e.fpAlg, e.fp)
}

// handshakeOver lets a changed certificate start the next handshake.
func (e *liteEndpoint) handshakeOver() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.shim = nil
	if e.keys.Load() == nil && e.keyFP != e.fp {
		e.maybeHandshakeLocked()
	}
}

// dtlsIn hands a DTLS datagram to the running handshake; without one it
// is dropped (an alert after the handshake, a retransmission too late).
func (e *liteEndpoint) dtlsIn(rt *route, p pathKey, b []byte) {
	// DTLS records are authenticated only by the handshake itself; the
	// path was checked, so it counts as heard.
	e.heard(rt, p, time.Now())
	e.mu.Lock()
	sh := e.shim
	e.mu.Unlock()
	if sh != nil {
		sh.deliver(b)
	}
}

// mediaIn decrypts one SRTP or SRTCP datagram on the socket's read loop
// and delivers it: audio to the reader (and on to the call's other leg),
// RTCP to the quality reports.
func (e *liteEndpoint) mediaIn(r *packetReader, rt *route, p pathKey, b []byte) {
	k := e.keys.Load()
	if k == nil || len(b) < 2 {
		return
	}
	e.rxMu.Lock()
	defer e.rxMu.Unlock()
	if b[1] >= 192 && b[1] <= 223 { // RTCP packet types (RFC 5761)
		out, err := k.dec.DecryptRTCP(r.plain[:0], b, nil)
		if err != nil {
			return
		}
		now := time.Now()
		e.heard(rt, p, now)
		e.sawSRTP()
		pkts, err := rtcp.Unmarshal(out)
		if err != nil {
			return
		}
		e.reports.Take(pkts, e.writer.SSRC(), e.writer.Holes(), now)
		return
	}
	out, err := k.dec.DecryptRTP(r.plain[:0], b, &r.hdr)
	if err != nil {
		return
	}
	e.heard(rt, p, time.Now())
	e.sawSRTP()
	e.reader.DeliverQueued(out, r.sends)
}

// sawSRTP tells a passive handshake that the browser has its keys.
func (e *liteEndpoint) sawSRTP() {
	if sh := e.lingering.Load(); sh != nil {
		sh.sawSRTP()
	}
}

var errNoPath = errors.New("agent media path not established")

// writeRTP is the writer's output: marshal and encrypt in the session's
// buffer and send on the current path, without allocating.
func (e *liteEndpoint) writeRTP(h *rtp.Header, payload []byte, q *rtpio.SendQueue) error {
	k, p := e.keys.Load(), e.path.Load()
	if k == nil || p == nil {
		return errNoPath
	}
	e.encMu.Lock()
	defer e.encMu.Unlock()
	n, err := h.MarshalTo(e.cipher[:rtpio.MTU])
	if err != nil {
		return fmt.Errorf("rtp header: %w", err)
	}
	if n+len(payload) > rtpio.MTU {
		return errors.New("rtp packet too long")
	}
	n += copy(e.cipher[n:], payload)
	out, err := k.enc.EncryptRTP(e.cipher[:0], e.cipher[:n], &e.encHdr)
	if err != nil {
		return fmt.Errorf("srtp: %w", err)
	}
	if err := e.net.send(p, out, &e.sender, q); err != nil {
		return err
	}
	e.octets.Add(uint64(len(payload)))
	return nil
}

// sendReport sends the session's RTCP report (from the API's reporter)
// unless nothing moved either way since the last one, and keeps the
// session's connection state from its silence.
func (e *liteEndpoint) sendReport(now time.Time) {
	e.checkSilence(now)
	if !e.rep.moved(e.writer, e.reader) {
		return
	}
	k, p := e.keys.Load(), e.path.Load()
	if k == nil || p == nil {
		return
	}
	pkt := e.reports.Report(e.writer, e.octets.Load(), e.reader.Reception(), now)
	if pkt == nil {
		return
	}
	b, err := pkt.Marshal()
	if err != nil {
		return
	}
	e.encMu.Lock()
	defer e.encMu.Unlock()
	out, err := k.enc.EncryptRTCP(e.cipher[:0], b, nil)
	if err != nil {
		return
	}
	_ = e.net.send(p, out, &e.sender, nil)
}

// checkSilence moves the state to disconnected, failed or back to
// connected from how long the browser has been silent.
func (e *liteEndpoint) checkSilence(now time.Time) {
	last := e.lastRecv.Load()
	if last == 0 || e.keys.Load() == nil {
		return
	}
	quiet := now.Sub(time.Unix(0, last))
	e.mu.Lock()
	defer e.mu.Unlock()
	switch {
	case quiet > silenceFailed:
		e.setStateLocked(stateFailed)
	case quiet > silenceDisconnected:
		e.setStateLocked(stateDisconnected)
	default:
		e.setStateLocked(stateConnected)
	}
}

func (e *liteEndpoint) setState(s string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.setStateLocked(s)
}

func (e *liteEndpoint) setStateLocked(s string) {
	if e.state == s || e.state == stateClosed {
		return
	}
	e.state = s
	if e.ev.OnConnectionState != nil {
		e.ev.OnConnectionState(s)
	}
}

// MediaStats implements cti.MediaStatsReporter.
func (e *liteEndpoint) MediaStats() cti.MediaStats { return mediaStats(e.reader, e.writer, &e.reports) }

// Close ends the session's transport: its routes, any handshake, its
// DTMF sender. Idempotent.
func (e *liteEndpoint) Close() error {
	if e.closed.Swap(true) {
		return nil
	}
	e.cancel()
	e.api.reports.remove(e)
	e.reader.Sink.Store(nil)
	e.mu.Lock()
	e.net.unregister(e.ufrag)
	if e.oldUfrag != "" {
		e.net.unregister(e.oldUfrag)
	}
	e.net.removePaths(e.paths, e)
	e.paths = nil
	sh := e.shim
	e.setStateLocked(stateClosed)
	e.mu.Unlock()
	e.path.Store(nil)
	if sh != nil {
		_ = sh.Close()
	}
	e.wg.Wait()
	return nil
}
