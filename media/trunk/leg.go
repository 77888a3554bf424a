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
// CANCEL, transaction timeout).
func (l *leg) monitor(dialogCtx context.Context) {
	select {
	case <-dialogCtx.Done():
		l.finish(cti.EndRemoteHangup)
	case <-l.done:
	}
}

// silent reports whether an answered, unheld leg has had no RTP for d.
func (l *leg) silent(now time.Time, d time.Duration) bool {
	return l.answered.Load() && !l.held.Load() && !l.remoteHeld.Load() && l.media.Idle(now) > d
}

// Hangup implements cti.SIPLeg.
func (l *leg) Hangup(ctx context.Context) error { return l.hangup(ctx, cti.EndLocalHangup) }

func (l *leg) hangupWith(r cti.EndReason) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = l.hangup(ctx, r)
}

func (l *leg) hangup(ctx context.Context, r cti.EndReason) error {
	select {
	case <-l.done:
		return nil
	default:
	}
	l.setReason(r)
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	var err error
	switch {
	case l.srv != nil && l.answered.Load():
		err = l.srv.Bye(ctx)
	case l.srv != nil:
		err = l.srv.Respond(sip.StatusTemporarilyUnavailable, "Temporarily Unavailable", nil)
	case l.cli != nil && l.answered.Load():
		err = l.cli.Bye(ctx)
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
	req := sip.NewRequest(sip.INVITE, l.remoteTarget())
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
	ack := sip.NewRequest(sip.ACK, l.remoteTarget())
	if l.srv != nil {
		err = l.srv.WriteRequest(ack)
	} else {
		err = l.cli.WriteRequest(ack)
	}
	if err != nil {
		return fmt.Errorf("ACK for re-INVITE: %w", err)
	}
	if rm, err := parseSDP(res.Body()); err == nil {
		l.media.SetRemote(rm.addr)
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
// end or media moving to a new address.
func (l *leg) handleReinvite(req *sip.Request, tx sip.ServerTransaction) {
	rm, err := parseSDP(req.Body())
	if err != nil {
		status, reason := sdpErrorStatus(err)
		_ = tx.Respond(sip.NewResponseFromRequest(req, status, reason, nil))
		return
	}
	if rm.addr.Addr().IsUnspecified() || rm.direction == "sendonly" || rm.direction == "inactive" {
		l.remoteHeld.Store(true)
	} else {
		l.remoteHeld.Store(false)
		l.media.SetRemote(rm.addr)
		l.media.TouchIdle()
	}
	f := l.media.Writer.Format()
	if rm.format.Codec != f.Codec || rm.format.EventPT != f.EventPT {
		l.media.SetFormat(rm.format)
		f = rm.format
	}
	body := buildSDP(l.sessID, l.sdpVersion.Add(1), l.t.mediaAddr(l.media), f, false, answerDirection(rm.direction))
	res := sip.NewSDPResponseFromRequest(req, body)
	res.AppendHeader(&l.t.contact)
	if err := tx.Respond(res); err != nil {
		l.log.Warn("answering re-INVITE", "err", err)
	}
	l.log.Info("re-INVITE answered", "direction", rm.direction)
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
