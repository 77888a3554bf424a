package trunk

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"github.com/ringbridge/ringbridge/cti"
	"github.com/ringbridge/ringbridge/media/rtpio"
)

// leg is one SIP dialog and its RTP. Exactly one of srv (inbound) and cli
// (outbound) is set.
type leg struct {
	t      *Trunks
	trunk  *trunk
	id     string
	callID string
	log    *slog.Logger
	media  *rtpio.UDPLeg
	srv    *sipgo.DialogServerSession
	cli    *sipgo.DialogClientSession

	sessID     uint64
	sdpVersion atomic.Uint64
	answered   atomic.Bool
	held       atomic.Bool // we put the far end on hold
	remoteHeld atomic.Bool // the far end put us on hold
	ackSeen    atomic.Bool // the ACK to our 200 OK arrived
	hanging    atomic.Bool // a hangup (BYE, CANCEL, final response) has started
	timedOut   atomic.Bool // the media watchdog has fired

	inbound *inboundLeg // set on inbound legs
	kaSeq   uint16      // keep-alive sequence; the watchdog's alone

	holdMu       sync.Mutex
	onRemoteHold func(held bool)

	// dialCancel aborts an outbound INVITE (WaitAnswer then sends CANCEL).
	dialCancel context.CancelFunc

	dtmfCtx    context.Context
	dtmfCancel context.CancelFunc

	mu     sync.Mutex // guards reason
	reason cti.EndReason
	once   sync.Once
	done   chan struct{}
}

func newLeg(t *Trunks, tr *trunk, id, callID string, media *rtpio.UDPLeg) *leg {
	l := &leg{
		t: t, trunk: tr, id: id, callID: callID, media: media,
		log:    t.log.With("sip_call_id", callID, "trunk", tr.Name),
		sessID: rand.Uint64() >> 1,
		done:   make(chan struct{}),
	}
	l.dtmfCtx, l.dtmfCancel = context.WithCancel(context.Background())
	l.sdpVersion.Store(1)
	return l
}

// EndpointID implements cti.Endpoint.
func (l *leg) EndpointID() string { return "sip:" + l.callID }

// CallID implements cti.SIPLeg.
func (l *leg) CallID() string { return l.callID }

// Trunk names the trunk the leg runs over, for call records.
func (l *leg) Trunk() string { return l.trunk.Name }

// Reader and Writer make the leg a bridge.Leg.
func (l *leg) Reader() *rtpio.Reader { return l.media.Reader }
func (l *leg) Writer() *rtpio.Writer { return l.media.Writer }

// Done implements cti.SIPLeg.
func (l *leg) Done() <-chan struct{} { return l.done }

// EndReason implements cti.SIPLeg.
func (l *leg) EndReason() cti.EndReason {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.reason
}

// setReason records why the leg ends; the first reason wins, so a BYE we
// sent is not later reported as the far end's.
func (l *leg) setReason(r cti.EndReason) {
	l.mu.Lock()
	if l.reason == cti.EndNone {
		l.reason = r
	}
	l.mu.Unlock()
}

// finish releases the leg. Signalling (BYE, final response) must be done
// before: media goes last so the far end never hears a dead line first.
func (l *leg) finish(r cti.EndReason) {
	l.setReason(r)
	l.once.Do(func() {
		l.dtmfCancel()
		l.media.Close()
		l.t.removeLeg(l)
		if l.srv != nil {
			_ = l.srv.Close()
		}
		if l.cli != nil {
			_ = l.cli.Close()
		}
		close(l.done)
	})
}

// monitor ends the leg when its dialog ends from the far side (BYE,
// CANCEL, transaction timeout), without a goroutine waiting per call.
// After a local end the dialog's context ends too and finish is a no-op:
// the first reason stays.
func (l *leg) monitor(dialogCtx context.Context) {
	context.AfterFunc(dialogCtx, func() { l.finish(cti.EndRemoteHangup) })
}

// silent reports whether an answered, unheld leg has had no RTP for d.
// A leg already hanging up is not silent: its BYE is under way.
func (l *leg) silent(now time.Time, d time.Duration) bool {
	return l.answered.Load() && !l.hanging.Load() && !l.held.Load() && !l.remoteHeld.Load() && l.media.Idle(now) > d
}

// Hangup implements cti.SIPLeg.
func (l *leg) Hangup(ctx context.Context) error { return l.hangup(ctx, cti.EndLocalHangup) }

func (l *leg) hangupWith(r cti.EndReason) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = l.hangup(ctx, r)
}

// hangup ends the leg once: only the first caller sends BYE (or CANCEL,
// or the final response); its retransmissions are the transaction
// layer's business. Later callers wait for the leg to end.
func (l *leg) hangup(ctx context.Context, r cti.EndReason) error {
	select {
	case <-l.done:
		return nil
	default:
	}
	if !l.hanging.CompareAndSwap(false, true) {
		select {
		case <-l.done:
		case <-ctx.Done():
		}
		return nil
	}
	l.setReason(r)
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	var err error
	switch {
	case l.srv != nil && l.answered.Load():
		err = l.bye(ctx)
	case l.inbound != nil:
		// Ports go back before the final response waits for its ACK.
		l.finish(r)
		l.inbound.respondFinal(sip.StatusTemporarilyUnavailable, "Temporarily Unavailable")
	case l.cli != nil && l.answered.Load():
		err = l.bye(ctx)
	case l.cli != nil:
		// Cancelling the dial context makes WaitAnswer send CANCEL.
		if l.dialCancel != nil {
			l.dialCancel()
		}
	}
	l.finish(r)
	if err != nil {
		return fmt.Errorf("hangup %s: %w", l.callID, err)
	}
	return nil
}

// SendDTMF implements cti.SIPLeg: RFC 4733 toward the far end.
func (l *leg) SendDTMF(digits string) error {
	if l.media.Writer.Format().EventPT == 0 {
		return cti.Errorf(cti.KindUnavailable, "the far end does not accept RFC 4733 digits")
	}
	go func() { _ = l.media.Writer.SendDTMF(l.dtmfCtx, digits) }()
	return nil
}

// OnDTMF implements cti.SIPLeg.
func (l *leg) OnDTMF(fn func(rune)) { l.media.Reader.OnDTMF(fn) }

// Hold implements cti.SIPLeg: a re-INVITE with a=sendonly (on) or
// a=sendrecv (off).
func (l *leg) Hold(ctx context.Context, on bool) error {
	if !l.answered.Load() {
		return cti.Errorf(cti.KindConflict, "call not answered")
	}
	dir := "sendrecv"
	if on {
		dir = "sendonly"
	}
	body := buildSDP(l.sessID, l.sdpVersion.Add(1), l.t.mediaAddr(l.media), l.media.Writer.Format(), false, dir)
	req := l.route(sip.NewRequest(sip.INVITE, l.remoteTarget()))
	req.SetBody(body)
	req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var res *sip.Response
	var err error
	if l.srv != nil {
		res, err = l.srv.Do(ctx, req)
	} else {
		res, err = l.cli.Do(ctx, req)
	}
	if err != nil {
		return fmt.Errorf("re-INVITE: %w", err)
	}
	if !res.IsSuccess() {
		return fmt.Errorf("re-INVITE answered %d %s", res.StatusCode, res.Reason)
	}
	ack := l.route(sip.NewRequest(sip.ACK, l.remoteTarget()))
	if l.srv != nil {
		err = l.srv.WriteRequest(ack)
	} else {
		err = l.cli.WriteRequest(ack)
	}
	if err != nil {
		return fmt.Errorf("ACK for re-INVITE: %w", err)
	}
	if rm, err := parseSDP(res.Body()); err == nil {
		if !rm.addr.Addr().IsUnspecified() {
			l.media.SetRemote(rm.addr)
		}
		// An answer of inactive (or sendonly to our sendrecv) means the
		// far end takes no media from us: not even keep-alives.
		l.media.SetSendPaused(rm.direction == "inactive" || rm.direction == "sendonly" || l.remoteHeld.Load())
	}
	l.held.Store(on)
	l.media.TouchIdle()
	return nil
}

// remoteTarget is the far end's Contact URI.
func (l *leg) remoteTarget() sip.Uri {
	if l.srv != nil {
		if c := l.srv.InviteRequest.Contact(); c != nil {
			return c.Address
		}
		return l.srv.InviteRequest.From().Address
	}
	if l.cli.InviteResponse != nil {
		if c := l.cli.InviteResponse.Contact(); c != nil {
			return c.Address
		}
	}
	return l.cli.InviteRequest.Recipient
}

// handleReinvite answers an in-dialog INVITE: hold/unhold from the far
// end, media moving to a new address, or a session refresh. One without
// SDP (RFC 3261 §14.2; session timers, RFC 4028) is answered with our
// current SDP as the offer, the far end's answer comes in the ACK.
func (l *leg) handleReinvite(req *sip.Request, tx sip.ServerTransaction) {
	if len(req.Body()) == 0 {
		body := buildSDP(l.sessID, l.sdpVersion.Load(), l.t.mediaAddr(l.media), l.media.Writer.Format(), false, l.ourDirection())
		l.respondReinvite(req, tx, body)
		l.log.Info("re-INVITE without SDP answered with our current offer")
		return
	}
	rm, err := parseSDP(req.Body())
	if err != nil {
		status, reason := sdpErrorStatus(err)
		_ = tx.Respond(sip.NewResponseFromRequest(req, status, reason, nil))
		return
	}
	dir := rm.direction
	if rm.addr.Addr().IsUnspecified() {
		// RFC 2543 hold: c=0.0.0.0.
		dir = "inactive"
	} else {
		l.media.SetRemote(rm.addr)
	}
	f := l.media.Writer.Format()
	if rm.format.Codec != f.Codec || rm.format.EventPT != f.EventPT {
		l.media.SetFormat(rm.format)
		f = rm.format
	}
	ours := answerDirection(dir)
	if l.held.Load() && (ours == "sendrecv" || ours == "sendonly") {
		ours = "sendonly"
	} else if l.held.Load() {
		ours = "inactive"
	}
	body := buildSDP(l.sessID, l.sdpVersion.Add(1), l.t.mediaAddr(l.media), f, false, ours)
	l.respondReinvite(req, tx, body)
	l.applyRemoteDirection(dir)
	l.log.Info("re-INVITE answered", "direction", rm.direction, "answer", ours)
}

func (l *leg) respondReinvite(req *sip.Request, tx sip.ServerTransaction, body []byte) {
	res := sip.NewSDPResponseFromRequest(req, body)
	res.AppendHeader(l.t.contactFor(req.Transport()))
	res.AppendHeader(sip.NewHeader("Allow", allowedMethods))
	if err := tx.Respond(res); err != nil {
		l.log.Warn("answering re-INVITE", "err", err)
	}
}

// ourDirection is the direction our current SDP states.
func (l *leg) ourDirection() string {
	if l.held.Load() {
		return "sendonly"
	}
	return "sendrecv"
}

// onAckBody takes an SDP answer from an ACK: to our offer in the 200 OK
// of an offerless INVITE or re-INVITE.
func (l *leg) onAckBody(req *sip.Request) {
	first := !l.ackSeen.Swap(true)
	if len(req.Body()) == 0 {
		if first && l.inbound != nil && l.inbound.lateOffer {
			l.log.Warn("ACK carries no answer to our offer; hanging up")
			go l.hangupWith(cti.EndFailed)
		}
		return
	}
	rm, err := parseSDP(req.Body())
	if err != nil {
		l.log.Warn("ACK carries no usable answer to our offer; hanging up", "err", err)
		go l.hangupWith(cti.EndFailed)
		return
	}
	if !rm.addr.Addr().IsUnspecified() {
		l.media.SetRemote(rm.addr)
	}
	l.media.SetFormat(rm.format)
	l.applyRemoteDirection(rm.direction)
	l.media.TouchIdle()
}

// sdpErrorStatus maps SDP problems to SIP responses.
func sdpErrorStatus(err error) (int, string) {
	switch {
	case err == nil:
		return 200, "OK"
	case errors.Is(err, ErrNoCodec), errors.Is(err, ErrNoAudio):
		return sip.StatusNotAcceptableHere, "Not Acceptable Here"
	default:
		return sip.StatusBadRequest, "Bad Request: malformed SDP"
	}
}
