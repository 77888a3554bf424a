package trunk

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"github.com/ringbridge/ringbridge/cti"
	"github.com/ringbridge/ringbridge/media/rtpio"
)

// inboundLeg is a call a trunk offered us.
type inboundLeg struct {
	*leg
	remote remoteMedia
	tx     sip.ServerTransaction
	branch string // top Via branch of the INVITE, to match its CANCEL

	// lateOffer: the INVITE had no SDP, so our 200 OK carries the offer
	// and the ACK the answer.
	lateOffer bool
	// mediaReady is closed once the leg has its RTP ports (after cti took
	// the call); Answer waits for it.
	mediaReady chan struct{}
	finalOnce  sync.Once // one final response per INVITE transaction
}

var _ cti.InboundLeg = (*inboundLeg)(nil)

// onInvite handles every INVITE: in-dialog ones are re-INVITEs, the rest
// are new calls that must come from a configured trunk.
//
// The order matters for robustness: everything that can refuse the call
// (source, headers, SDP, cti's routing) runs before RTP ports are taken,
// so a refused or unacknowledged INVITE holds no port while its
// transaction waits for the ACK or Timer H.
func (t *Trunks) onInvite(req *sip.Request, tx sip.ServerTransaction) {
	if to := req.To(); to != nil {
		if tag, ok := to.Params.Get("tag"); ok && tag != "" {
			if l := t.legFor(req); l != nil {
				l.handleReinvite(req, tx)
				return
			}
			respond(tx, req, sip.StatusCallTransactionDoesNotExists, "Call/Transaction Does Not Exist")
			return
		}
	}
	if l := t.legFor(req); l != nil {
		// A second dialog-creating INVITE of a live call (a proxy's
		// spiral or a fork reaching us twice): legs are kept by Call-ID,
		// so the first call must not be replaced.
		respond(tx, req, 482, "Loop Detected")
		return
	}
	src := req.Source()
	tr := t.trunkForSource(src)
	if tr == nil {
		t.log.Warn("INVITE from unknown source refused", "source", src, "sip_call_id", callIDOf(req))
		respond(tx, req, sip.StatusForbidden, "Forbidden")
		return
	}
	if t.ctx.Err() != nil {
		respond(tx, req, sip.StatusServiceUnavailable, "Service Unavailable")
		return
	}
	if ct := req.ContentType(); len(req.Body()) > 0 && ct != nil && !strings.EqualFold(strings.TrimSpace(ct.Value()), "application/sdp") {
		res := sip.NewResponseFromRequest(req, sip.StatusUnsupportedMediaType, "Unsupported Media Type", nil)
		res.AppendHeader(sip.NewHeader("Accept", "application/sdp"))
		_ = tx.Respond(res)
		return
	}
	lateOffer := len(req.Body()) == 0
	rm := remoteMedia{format: rtpio.Format{Codec: rtpio.CodecPCMU, AudioPT: 0, EventPT: defaultEventPT}, direction: "sendrecv"}
	if !lateOffer {
		var err error
		if rm, err = parseSDP(req.Body()); err != nil {
			status, reason := sdpErrorStatus(err)
			t.log.Warn("INVITE with unusable SDP", "source", src, "err", err)
			respond(tx, req, status, reason)
			return
		}
	}
	respond(tx, req, sip.StatusTrying, "Trying")

	dlg, err := t.clients.dialogUA(req.Transport()).ReadInvite(req, tx)
	if err != nil {
		t.log.Warn("INVITE rejected", "source", src, "err", err)
		respond(tx, req, sip.StatusBadRequest, "Bad Request: "+badInviteReason(err))
		return
	}
	// Media is pending: the leg can be handed to cti and wired up, but it
	// takes ports only once cti has decided the call will ring.
	media := rtpio.NewPendingUDPLeg(t.ports, rm.format)
	if !lateOffer {
		media.SetRemote(rm.addr)
	}
	l := &inboundLeg{leg: newLeg(t, tr, "", callIDOf(req), media), remote: rm, tx: tx,
		branch: viaBranch(req), lateOffer: lateOffer, mediaReady: make(chan struct{})}
	l.srv = dlg
	l.inbound = l
	t.addLeg(l.leg)
	l.monitor(dlg.Context())
	l.log.Info("INVITE received", "transport", req.Transport(), "source", src, "codec", rm.format.Codec.String(), "late_offer", lateOffer)

	err = t.handler.InboundCall(dlg.Context(), cti.InboundCall{
		Trunk: tr.Name,
		From:  userOf(req.From()),
		To:    requestUser(req),
		Leg:   l,
		// Only a node mints these; cti checks the signature.
		Handover: uriParam(req.Recipient, cti.HandoverParam),
	})
	var redirect *cti.RedirectError
	if errors.As(err, &redirect) {
		l.log.Info("inbound call redirected to the node holding the agent", "node", redirect.Node, "to", redirect.Host)
		l.finish(cti.EndRejected)
		l.respondRedirect(redirect)
		return
	}
	if err != nil {
		status, reason := statusFor(err)
		l.log.Info("inbound call refused", "status", status, "err", err)
		// Release first: the final response's transaction lives on until
		// ACK or Timer H, and must not keep the leg alive meanwhile.
		l.finish(cti.EndRejected)
		l.respondFinal(status, reason)
		return
	}
	rtpConn, rtcpConn, err := t.ports.Allocate()
	if err != nil {
		t.log.Error("no RTP port for inbound call", "err", err)
		l.finish(cti.EndFailed)
		l.respondFinal(sip.StatusServiceUnavailable, "Service Unavailable")
		return
	}
	if err := media.Attach(rtpConn, rtcpConn); err == nil {
		close(l.mediaReady)
	}
	// The handler owns the call now; keep the transaction alive until the
	// leg ends (sipgo terminates it when this function returns).
	<-l.done
}

// respondFinal sends the one final error response of the INVITE
// transaction, with the dialog's To-tag, and does not wait for the ACK:
// the transaction layer absorbs it (and retransmits over UDP).
func (l *inboundLeg) respondFinal(status int, reason string) {
	l.finalOnce.Do(func() {
		res := sip.NewResponseFromRequest(l.srv.InviteRequest, status, reason, nil)
		if status == sip.StatusServiceUnavailable {
			res.AppendHeader(sip.NewHeader("Retry-After", "30"))
		}
		if err := l.tx.Respond(res); err != nil {
			l.log.Debug("final response", "status", status, "err", err)
		}
	})
}

// respondRedirect answers 302 Moved Temporarily towards another node; the
// front door (docs/scale-out.md) sends the INVITE on.
func (l *inboundLeg) respondRedirect(r *cti.RedirectError) {
	l.finalOnce.Do(func() {
		res := sip.NewResponseFromRequest(l.srv.InviteRequest, sip.StatusMovedTemporarily, "Moved Temporarily", nil)
		uri := sip.Uri{Scheme: "sip", User: r.User, UriParams: sip.NewParams()}
		host, port, err := net.SplitHostPort(r.Host)
		if err == nil {
			uri.Host = host
			uri.Port, _ = strconv.Atoi(port)
		} else {
			uri.Host = r.Host
		}
		uri.UriParams.Add(cti.HandoverParam, r.Token)
		res.AppendHeader(&sip.ContactHeader{Address: uri})
		if err := l.tx.Respond(res); err != nil {
			l.log.Debug("redirect response", "err", err)
		}
	})
}

// uriParam is a Request-URI parameter's value ("" if absent).
func uriParam(u sip.Uri, name string) string {
	if u.UriParams == nil {
		return ""
	}
	v, _ := u.UriParams.Get(name)
	return v
}

// Ringing implements cti.InboundLeg.
func (l *inboundLeg) Ringing(ctx context.Context) error {
	return l.srv.Respond(sip.StatusRinging, "Ringing", nil)
}

// Answer implements cti.InboundLeg: 200 OK with our SDP, then wait for ACK.
func (l *inboundLeg) Answer(ctx context.Context) error {
	select {
	case <-l.mediaReady:
	case <-l.done:
		return errors.New("call ended before it was answered")
	case <-ctx.Done():
		return ctx.Err()
	}
	var body []byte
	if l.lateOffer {
		body = buildSDP(l.sessID, l.sdpVersion.Load(), l.t.mediaAddr(l.media), rtpio.Format{}, true, "sendrecv")
	} else {
		body = buildSDP(l.sessID, l.sdpVersion.Load(), l.t.mediaAddr(l.media), l.remote.format, false, answerDirection(l.remote.direction))
		l.applyRemoteDirection(l.remote.direction)
	}
	// The answer must be marked answered before the ACK can race a BYE.
	l.answered.Store(true)
	l.media.TouchIdle()
	res := sip.NewSDPResponseFromRequest(l.srv.InviteRequest, body)
	res.AppendHeader(sip.NewHeader("Allow", allowedMethods))
	res.AppendHeader(sip.NewHeader("Server", l.t.cfg.UserAgent))
	var final bool
	l.finalOnce.Do(func() { final = true })
	if !final {
		l.answered.Store(false)
		return errors.New("INVITE already answered with a final response")
	}
	if err := l.srv.WriteResponse(res); err != nil {
		l.answered.Store(false)
		return fmt.Errorf("200 OK: %w", err)
	}
	return nil
}

// Reject implements cti.InboundLeg.
func (l *inboundLeg) Reject(ctx context.Context, why cti.EndReason) error {
	status, reason := rejectStatus(why)
	l.setReason(cti.EndRejected)
	l.finish(cti.EndRejected)
	l.respondFinal(status, reason)
	return nil
}

// badInviteReason says what ReadInvite disliked, in words of our own: the
// reason phrase never echoes the request.
func badInviteReason(err error) string {
	if errors.Is(err, sipgo.ErrDialogInviteNoContact) {
		return "Missing Contact"
	}
	return "Malformed INVITE"
}

func viaBranch(req *sip.Request) string {
	if v := req.Via(); v != nil {
		b, _ := v.Params.Get("branch")
		return b
	}
	return ""
}

// rejectStatus maps why cti refuses a ringing call to a SIP final
// response.
func rejectStatus(why cti.EndReason) (int, string) {
	switch why {
	case cti.EndRejected, cti.EndBusy:
		return sip.StatusBusyHere, "Busy Here"
	case cti.EndNoAnswer:
		return sip.StatusTemporarilyUnavailable, "No Answer"
	case cti.EndShutdown, cti.EndFailed:
		return sip.StatusServiceUnavailable, "Service Unavailable"
	}
	return sip.StatusTemporarilyUnavailable, "Temporarily Unavailable"
}

// statusFor maps a cti refusal to a SIP final response.
func statusFor(err error) (int, string) {
	switch status := cti.RefusalStatus(err); status {
	case sip.StatusNotFound:
		return status, "Not Found"
	case sip.StatusBusyHere:
		return status, "Busy Here"
	case sip.StatusTemporarilyUnavailable:
		return status, "Temporarily Unavailable"
	case sip.StatusForbidden:
		return status, "Forbidden"
	default:
		return status, "Server Internal Error"
	}
}

func respond(tx sip.ServerTransaction, req *sip.Request, status int, reason string) {
	_ = tx.Respond(sip.NewResponseFromRequest(req, status, reason, nil))
}

func callIDOf(req *sip.Request) string {
	if h := req.CallID(); h != nil {
		return h.Value()
	}
	return ""
}

func userOf(h *sip.FromHeader) string {
	if h == nil {
		return ""
	}
	return h.Address.User
}

// requestUser is the called number: the Request-URI user, falling back to
// the To user.
func requestUser(req *sip.Request) string {
	if req.Recipient.User != "" {
		return req.Recipient.User
	}
	if to := req.To(); to != nil {
		return to.Address.User
	}
	return ""
}
