package trunk

import (
	"context"
	"fmt"
	"strings"

	"github.com/emiago/sipgo/sip"
	"github.com/ringbridge/ringbridge/cti"
	"github.com/ringbridge/ringbridge/media/rtpio"
)

// inboundLeg is a call a trunk offered us.
type inboundLeg struct {
	*leg
	remote remoteMedia
}

var _ cti.InboundLeg = (*inboundLeg)(nil)

// onInvite handles every INVITE: in-dialog ones are re-INVITEs, the rest
// are new calls that must come from a configured trunk.
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
	if ct := req.ContentType(); ct != nil && !strings.EqualFold(strings.TrimSpace(ct.Value()), "application/sdp") {
		respond(tx, req, sip.StatusUnsupportedMediaType, "Unsupported Media Type")
		return
	}
	if len(req.Body()) == 0 {
		// Offerless INVITEs (late offer) are rare on trunks; say so plainly.
		respond(tx, req, sip.StatusNotAcceptableHere, "Not Acceptable Here: SDP offer required")
		return
	}
	rm, err := parseSDP(req.Body())
	if err != nil {
		status, reason := sdpErrorStatus(err)
		t.log.Warn("INVITE with unusable SDP", "source", src, "err", err)
		respond(tx, req, status, reason)
		return
	}
	respond(tx, req, sip.StatusTrying, "Trying")

	dlg, err := t.clients.dialogUA(req.Transport()).ReadInvite(req, tx)
	if err != nil {
		t.log.Warn("INVITE rejected", "source", src, "err", err)
		respond(tx, req, sip.StatusBadRequest, "Bad Request")
		return
	}
	rtpConn, rtcpConn, err := t.ports.Allocate()
	if err != nil {
		t.log.Error("no RTP port for inbound call", "err", err)
		_ = dlg.Respond(sip.StatusServiceUnavailable, "Service Unavailable", nil)
		return
	}
	media := rtpio.NewUDPLeg(rtpConn, rtcpConn, t.ports, rm.format)
	media.SetRemote(rm.addr)
	media.Start()
	l := &inboundLeg{leg: newLeg(t, tr, "", callIDOf(req), media), remote: rm}
	l.srv = dlg
	t.addLeg(l.leg)
	go l.monitor(dlg.Context())
	l.log.Info("INVITE accepted", "transport", req.Transport(), "source", src, "codec", rm.format.Codec.String())

	err = t.handler.InboundCall(dlg.Context(), cti.InboundCall{
		Trunk: tr.Name,
		From:  userOf(req.From()),
		To:    requestUser(req),
		Leg:   l,
	})
	if err != nil {
		status, reason := statusFor(err)
		l.log.Info("inbound call refused", "status", status, "err", err)
		_ = dlg.Respond(status, reason, nil)
		l.finish(cti.EndRejected)
		return
	}
	// The handler owns the call now; keep the transaction alive until the
	// leg ends (sipgo terminates it when this function returns).
	<-l.done
}

// Ringing implements cti.InboundLeg.
func (l *inboundLeg) Ringing(ctx context.Context) error {
	return l.srv.Respond(sip.StatusRinging, "Ringing", nil)
}

// Answer implements cti.InboundLeg: 200 OK with our SDP, then wait for ACK.
func (l *inboundLeg) Answer(ctx context.Context) error {
	body := buildSDP(l.sessID, l.sdpVersion.Load(), l.t.mediaAddr(l.media), l.remote.format, false, answerDirection(l.remote.direction))
	// The answer must be marked answered before the ACK can race a BYE.
	l.answered.Store(true)
	l.media.TouchIdle()
	res := sip.NewSDPResponseFromRequest(l.srv.InviteRequest, body)
	res.AppendHeader(sip.NewHeader("Allow", allowedMethods))
	res.AppendHeader(sip.NewHeader("Server", l.t.cfg.UserAgent))
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
	err := l.srv.Respond(status, reason, nil)
	l.finish(cti.EndRejected)
	return err
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
