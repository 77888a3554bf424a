package trunk

import (
	"bytes"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"github.com/ringbridge/ringbridge/cti"
)

// The guard is what every request meets before our handlers: the rate
// limits, then the checks RFC 3261 §8.2 asks of a UAS (version, URI
// scheme, mandatory headers, CSeq, Require). Replies use reason phrases of
// our own and always say SIP/2.0: nothing of a malformed request is
// echoed back but the headers a response must copy.

// readFilter sees every UDP datagram, and every TCP read, before sipgo
// parses it; it returns what sipgo may see (nothing: dropped or answered
// here). It must never return an error: sipgo would stop reading the
// socket. It runs on sipgo's read loops, so it answers with single writes
// and never waits.
func (t *Trunks) readFilter(p sip.TransportReadProps, data []byte) ([]byte, error) {
	if p.Transport == "TCP" {
		if bytes.HasPrefix(data, []byte("CANCEL ")) && t.cancelSegment(p, data) {
			return nil, nil
		}
		return data, nil
	}
	if p.Transport != "UDP" {
		return data, nil
	}
	if len(bytes.Trim(data, "\r\n\x00")) == 0 || bytes.HasPrefix(data, []byte("SIP/2.0 ")) {
		return data, nil // a keep-alive or a response: sipgo's business
	}
	method := requestMethod(data)
	if method == "" {
		// Neither request nor response. sipgo might still read it as a
		// request with an odd version and answer, echoing that version.
		return nil, nil
	}
	src := addrPortOf(p.RemoteAddr)
	switch t.limits.check(src.Addr(), method, time.Now()) {
	case refuse:
		t.statelessReply(data, src, sip.StatusServiceUnavailable, "Service Unavailable: rate limit")
		return nil, nil
	case drop:
		return nil, nil
	}
	// sipgo drops what it cannot parse without a word, and the sender
	// retransmits; RFC 3261 §16.3 and RFC 4475 ask for a 400. And what it
	// parses but cannot make a transaction of, it answers echoing the
	// request's version. So requests are parsed here once more (the whole
	// guard costs about 10 µs per INVITE, BenchmarkReadFilterInvite) and
	// those are answered by us.
	msg, err := t.parser.ParseSIP(data)
	if err != nil {
		t.rejectUnparseable(data, src)
		return nil, nil
	}
	req, ok := msg.(*sip.Request)
	if !ok {
		return nil, nil
	}
	if req.SipVersion != "SIP/2.0" || req.Via() == nil || req.CSeq() == nil || req.CallID() == nil || req.From() == nil || req.To() == nil {
		t.rejectUnparseable(data, src)
		return nil, nil
	}
	if method == "CANCEL" && t.cancelRinging(req, src, func(res *sip.Response) { t.writeDatagram(res, src) }) {
		return nil, nil
	}
	return data, nil
}

// requestMethod is the method of a request's start line, or "" if the
// data does not start with a method token and a space.
func requestMethod(data []byte) string {
	sp := bytes.IndexByte(data, ' ')
	if sp <= 0 || sp > 32 {
		return ""
	}
	m := string(data[:sp])
	if strings.HasPrefix(m, "SIP/") {
		return ""
	}
	for _, c := range m {
		if !isTokenChar(c) {
			return ""
		}
	}
	return m
}

// isTokenChar reports whether c may appear in a SIP token (RFC 3261 §25.1).
func isTokenChar(c rune) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	return strings.ContainsRune("-.!%*_+`'~", c)
}

func addrPortOf(a net.Addr) netip.AddrPort {
	switch a := a.(type) {
	case *net.UDPAddr:
		ap := a.AddrPort()
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	case *net.TCPAddr:
		ap := a.AddrPort()
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	}
	ap, _ := netip.ParseAddrPort(a.String())
	return ap
}

// statelessReply answers a datagram outside any transaction.
func (t *Trunks) statelessReply(data []byte, src netip.AddrPort, status int, reason string) {
	msg, err := t.parser.ParseSIP(data)
	if err != nil {
		return
	}
	req, ok := msg.(*sip.Request)
	if !ok || req.IsAck() || req.SipVersion != "SIP/2.0" || req.Via() == nil || req.CSeq() == nil {
		return
	}
	req.SetSource(src.String())
	res := newResponse(req, status, reason)
	if status == sip.StatusServiceUnavailable {
		res.AppendHeader(sip.NewHeader("Retry-After", "5"))
	}
	t.writeDatagram(res, src)
}

func (t *Trunks) writeDatagram(res *sip.Response, to netip.AddrPort) {
	if t.udpConn == nil {
		return
	}
	_, _ = t.udpConn.WriteTo([]byte(res.String()), net.UDPAddrFromAddrPort(to))
}

// cancelSegment handles a TCP read holding exactly one CANCEL (as they
// come) like a datagram; anything else goes on to sipgo's stream parser.
func (t *Trunks) cancelSegment(p sip.TransportReadProps, data []byte) bool {
	msg, err := t.parser.ParseSIP(data)
	if err != nil {
		return false
	}
	req, ok := msg.(*sip.Request)
	head := bytes.Index(data, []byte("\r\n\r\n"))
	if !ok || head < 0 || head+4+len(req.Body()) != len(data) || req.SipVersion != "SIP/2.0" ||
		req.Via() == nil || req.CSeq() == nil || req.CallID() == nil || req.To() == nil {
		return false
	}
	conn, err := t.ua.TransportLayer().GetConnection("tcp", p.RemoteAddr.String())
	if err != nil || conn == nil {
		return false
	}
	defer conn.TryClose()
	src := addrPortOf(p.RemoteAddr)
	req.SetTransport("TCP")
	return t.cancelRinging(req, src, func(res *sip.Response) { _ = conn.WriteMsg(res) })
}

// cancelRinging answers a CANCEL for an INVITE we are still ringing:
// 200 to the CANCEL and 487 to the INVITE, both with the To-tag of the
// INVITE's provisional responses (RFC 3261 §9.2; sipgo would give each a
// tag of its own). Anything else is left to sipgo's transaction layer
// and, failing a match there, onCancel's 481.
func (t *Trunks) cancelRinging(req *sip.Request, src netip.AddrPort, reply func(*sip.Response)) bool {
	t.mu.Lock()
	l := t.legs[req.CallID().Value()]
	t.mu.Unlock()
	if l == nil || l.inbound == nil || l.inbound.branch != viaBranch(req) || l.inbound.branch == "" {
		return false
	}
	in := l.inbound
	tag, _ := in.srv.InviteRequest.To().Params.Get("tag")
	req.To().Params.Add("tag", tag)
	req.SetSource(src.String())
	reply(newResponse(req, sip.StatusOK, "OK"))
	if in.answered.Load() {
		return true // too late: the CANCEL has no effect (§9.2)
	}
	in.log.Info("caller cancelled")
	in.setReason(cti.EndRemoteHangup)
	in.finish(cti.EndRemoteHangup)
	in.respondFinal(sip.StatusRequestTerminated, "Request Terminated")
	return true
}

// transactionHeaders are what a response must copy (RFC 3261 §8.2.6.2).
var transactionHeaders = map[string]bool{"via": true, "v": true, "from": true, "f": true, "to": true, "t": true,
	"call-id": true, "i": true, "cseq": true}

// rejectUnparseable answers a request sipgo cannot parse with 400 (or
// 416, 505), copying only those of its transaction headers that parse on
// their own: a malformed header is never echoed. Without a usable Via,
// Call-ID and CSeq the sender could not match a response; it gets none.
func (t *Trunks) rejectUnparseable(data []byte, src netip.AddrPort) {
	text := strings.ReplaceAll(string(data), "\r\n", "\n")
	head, _, _ := strings.Cut(text, "\n\n")
	lines := strings.Split(head, "\n")
	status, reason := requestLineVerdict(lines[0])
	var kept strings.Builder
	for _, l := range lines[1:] {
		name, _, ok := strings.Cut(l, ":")
		if !ok || !transactionHeaders[strings.ToLower(strings.TrimSpace(name))] {
			continue
		}
		if _, err := t.parser.ParseSIP([]byte("OPTIONS sip:invalid SIP/2.0\r\n" + l + "\r\nContent-Length: 0\r\n\r\n")); err != nil {
			continue
		}
		kept.WriteString(l + "\r\n")
	}
	msg, err := t.parser.ParseSIP([]byte("OPTIONS sip:invalid SIP/2.0\r\n" + kept.String() + "Content-Length: 0\r\n\r\n"))
	if err != nil {
		return
	}
	req, ok := msg.(*sip.Request)
	if !ok || req.Via() == nil || req.CSeq() == nil {
		return // nothing a sender could match a response to
	}
	t.log.Debug("unparseable SIP request refused", "source", src, "status", status, "reason", reason)
	req.SetSource(src.String())
	t.writeDatagram(newResponse(req, status, reason), src)
}

// requestLineVerdict judges a Request-Line sipgo would not parse.
func requestLineVerdict(line string) (int, string) {
	parts := strings.Split(line, " ")
	if len(parts) != 3 || parts[0] == "" || parts[1] == "" {
		return sip.StatusBadRequest, "Bad Request: malformed Request-Line"
	}
	uri, version := parts[1], parts[2]
	if strings.ContainsAny(uri, "<>\"\t") {
		return sip.StatusBadRequest, "Bad Request: malformed Request-URI"
	}
	scheme, _, ok := strings.Cut(uri, ":")
	if !ok {
		return sip.StatusBadRequest, "Bad Request: malformed Request-URI"
	}
	if s := strings.ToLower(scheme); s != "sip" && s != "sips" {
		return statusUnsupportedURIScheme, "Unsupported URI Scheme"
	}
	if version != "SIP/2.0" {
		if strings.HasPrefix(version, "SIP/") {
			return sip.StatusVersionNotSupported, "Version Not Supported"
		}
		return sip.StatusBadRequest, "Bad Request: malformed Request-Line"
	}
	return sip.StatusBadRequest, "Bad Request: malformed or missing header"
}

// statusUnsupportedURIScheme is 416 (sipgo names the code after HTTP's).
const statusUnsupportedURIScheme = 416

// newResponse builds a response that states SIP/2.0 whatever the request
// said, with a To-tag where one is due.
func newResponse(req *sip.Request, status int, reason string) *sip.Response {
	res := sip.NewResponseFromRequest(req, status, reason, nil)
	res.SipVersion = "SIP/2.0"
	return res
}

// guarded wraps a handler with the checks every request passes.
func (t *Trunks) guarded(h sipgo.RequestHandler) sipgo.RequestHandler {
	return func(req *sip.Request, tx sip.ServerTransaction) {
		if !strings.EqualFold(req.Transport(), "UDP") {
			// UDP was limited before parsing; streams are limited here.
			src, _ := netip.ParseAddrPort(req.Source())
			switch t.limits.check(src.Addr().Unmap(), string(req.Method), time.Now()) {
			case refuse:
				res := newResponse(req, sip.StatusServiceUnavailable, "Service Unavailable: rate limit")
				res.AppendHeader(sip.NewHeader("Retry-After", "5"))
				_ = tx.Respond(res)
				return
			case drop:
				return
			}
		}
		if status, reason, extra := t.validate(req); status != 0 {
			if req.IsAck() {
				return // an ACK is never answered
			}
			t.log.Debug("SIP request refused", "method", truncate(string(req.Method), 16), "source", req.Source(),
				"status", status, "reason", reason)
			res := newResponse(req, status, reason)
			for _, h := range extra {
				res.AppendHeader(h)
			}
			_ = tx.Respond(res)
			return
		}
		h(req, tx)
	}
}

// validate returns the status (0 if none) a request must be refused with.
func (t *Trunks) validate(req *sip.Request) (int, string, []sip.Header) {
	if req.SipVersion != "SIP/2.0" {
		return sip.StatusVersionNotSupported, "Version Not Supported", nil
	}
	for _, name := range []string{"Via", "From", "To", "Call-ID", "CSeq"} {
		if req.GetHeader(name) == nil {
			return sip.StatusBadRequest, "Bad Request: missing " + name, nil
		}
	}
	for _, name := range []string{"From", "To", "Call-ID", "CSeq", "Content-Length", "Max-Forwards", "Content-Type"} {
		if len(req.GetHeaders(name)) > 1 {
			return sip.StatusBadRequest, "Bad Request: repeated " + name, nil
		}
	}
	if cseq := req.CSeq(); cseq.MethodName != req.Method {
		return sip.StatusBadRequest, "Bad Request: CSeq method does not match", nil
	}
	if s := strings.ToLower(req.Recipient.Scheme); s != "sip" && s != "sips" {
		return statusUnsupportedURIScheme, "Unsupported URI Scheme", nil
	}
	if req.Recipient.Headers != nil && req.Recipient.Headers.Length() > 0 {
		// RFC 3261 §19.1.5: headers belong in a URI one dials, never in a
		// Request-URI; RFC 4475 §3.1.2.11 expects a refusal.
		return sip.StatusBadRequest, "Bad Request: headers in Request-URI", nil
	}
	if req.IsAck() || req.IsCancel() {
		return 0, "", nil
	}
	if mf := req.MaxForwards(); mf != nil && *mf == 0 && req.Method != sip.OPTIONS {
		return sip.StatusTooManyHops, "Too Many Hops", nil
	}
	if req.IsInvite() && !acceptsSDP(req) {
		return sip.StatusNotAcceptable, "Not Acceptable", []sip.Header{sip.NewHeader("Accept", "application/sdp")}
	}
	var unsupported []string
	for _, h := range req.GetHeaders("Require") {
		for _, tag := range strings.Split(h.Value(), ",") {
			if tag = strings.TrimSpace(tag); tag != "" && !supported(tag) {
				unsupported = append(unsupported, sanitizeToken(tag))
			}
		}
	}
	if len(unsupported) > 0 {
		return sip.StatusBadExtension, "Bad Extension", []sip.Header{sip.NewHeader("Unsupported", strings.Join(unsupported, ", "))}
	}
	return 0, "", nil
}

// acceptsSDP reports whether a request's Accept (if any) allows the SDP
// our answer would carry.
func acceptsSDP(req *sip.Request) bool {
	hs := req.GetHeaders("Accept")
	if len(hs) == 0 {
		return true
	}
	for _, h := range hs {
		for _, v := range strings.Split(h.Value(), ",") {
			mt, _, _ := strings.Cut(v, ";")
			switch strings.ToLower(strings.TrimSpace(mt)) {
			case "application/sdp", "application/*", "*/*", "":
				return true
			}
		}
	}
	return false
}

// supported reports whether we implement an option tag.
func supported(tag string) bool {
	for _, s := range strings.Split(supportedExtensions, ",") {
		if s = strings.TrimSpace(s); s != "" && strings.EqualFold(s, tag) {
			return true
		}
	}
	return false
}

// sanitizeToken keeps an option tag to token characters (RFC 3261 §25.1),
// so the Unsupported header cannot carry what the request smuggled in.
func sanitizeToken(s string) string {
	s = truncate(s, 32)
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', strings.ContainsRune("-.!%*_+`'~", r):
			return r
		}
		return -1
	}, s)
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// onCancel answers a CANCEL that matched no transaction (RFC 3261 §9.2).
func (t *Trunks) onCancel(req *sip.Request, tx sip.ServerTransaction) {
	_ = tx.Respond(newResponse(req, sip.StatusCallTransactionDoesNotExists, "Call/Transaction Does Not Exist"))
}

// onUnknownMethod answers what we do not handle, saying what we do.
func (t *Trunks) onUnknownMethod(req *sip.Request, tx sip.ServerTransaction) {
	if req.IsAck() {
		return
	}
	res := newResponse(req, sip.StatusMethodNotAllowed, "Method Not Allowed")
	res.AppendHeader(sip.NewHeader("Allow", allowedMethods))
	_ = tx.Respond(res)
}

// onRateLimited logs a source over its limit (at most every 10 s each).
func (t *Trunks) onRateLimited(ip netip.Addr, method string, dropped uint64) {
	t.log.Warn("SIP rate limit exceeded; dropping requests from source", "source", ip, "method", method, "dropped", dropped)
}
