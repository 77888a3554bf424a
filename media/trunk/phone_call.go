package trunk

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"
	"github.com/ringbridge/ringbridge/media/rtpio"
)

// PhoneCall is one call of a Phone.
type PhoneCall struct {
	phone  *Phone
	media  *rtpio.UDPLeg
	srv    *sipgo.DialogServerSession
	cli    *sipgo.DialogClientSession
	offer  remoteMedia
	callID string
	sessID uint64

	// From and To are the users of an incoming call.
	From, To string

	version    atomic.Uint64
	ringing    atomic.Bool
	lastStatus atomic.Int32
	answered   atomic.Bool
	remoteHold atomic.Bool

	onAudio atomic.Pointer[func(codec rtpio.Codec, payload []byte)]
	// sendLoss is the share of frames SendAudio drops (in 1/1000), to
	// play a far end on a lossy line.
	sendLoss atomic.Uint32

	mu        sync.Mutex
	endReason string
	once      sync.Once
	done      chan struct{}
	stopAudio context.CancelFunc
}

// CallID returns the SIP Call-ID.
func (c *PhoneCall) CallID() string { return c.callID }

// Codec returns the negotiated audio codec.
func (c *PhoneCall) Codec() rtpio.Codec { return c.media.Writer.Format().Codec }

// Done is closed when the call ends.
func (c *PhoneCall) Done() <-chan struct{} { return c.done }

// EndReason says how the call ended ("remote_bye", "local_bye", …).
func (c *PhoneCall) EndReason() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.endReason
}

// RemoteHeld reports whether the far end has put this call on hold.
func (c *PhoneCall) RemoteHeld() bool { return c.remoteHold.Load() }

// Answer accepts an incoming call.
func (c *PhoneCall) Answer(ctx context.Context) error {
	body := buildSDP(c.sessID, c.version.Add(1), c.media.LocalAddr(), c.media.Writer.Format(), false, "sendrecv")
	if err := c.srv.RespondSDP(body); err != nil {
		return err
	}
	c.answered.Store(true)
	return nil
}

// Progress sends 183 Session Progress with our SDP, so audio sent from
// now on is early media (ringback, announcements) before the answer.
func (c *PhoneCall) Progress() error {
	body := buildSDP(c.sessID, c.version.Load(), c.media.LocalAddr(), c.media.Writer.Format(), false, "sendrecv")
	return c.srv.Respond(sip.StatusSessionInProgress, "Session Progress", body,
		sip.NewHeader("Content-Type", "application/sdp"))
}

// Reject refuses an incoming call with status.
func (c *PhoneCall) Reject(status int, reason string) error {
	err := c.srv.Respond(status, reason, nil)
	c.end("rejected")
	return err
}

// Hangup sends BYE (or CANCELs nothing: use the dial context for that).
func (c *PhoneCall) Hangup(ctx context.Context) error {
	select {
	case <-c.done:
		return nil
	default:
	}
	var err error
	switch {
	case c.cli != nil:
		err = c.cli.Bye(ctx)
	case c.srv != nil && c.answered.Load():
		err = c.srv.Bye(ctx)
	case c.srv != nil:
		err = c.srv.Respond(sip.StatusTemporarilyUnavailable, "Temporarily Unavailable", nil)
	}
	c.end("local_bye")
	return err
}

// Hold sends a re-INVITE with a=sendonly (or back to sendrecv).
func (c *PhoneCall) Hold(ctx context.Context, on bool) error {
	dir := "sendrecv"
	if on {
		dir = "sendonly"
	}
	body := buildSDP(c.sessID, c.version.Add(1), c.media.LocalAddr(), c.media.Writer.Format(), false, dir)
	var target sip.Uri
	if c.cli != nil {
		target = c.cli.InviteResponse.Contact().Address
	} else {
		target = c.srv.InviteRequest.Contact().Address
	}
	req := sip.NewRequest(sip.INVITE, target)
	req.SetBody(body)
	req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	var res *sip.Response
	var err error
	if c.cli != nil {
		res, err = c.cli.Do(ctx, req)
	} else {
		res, err = c.srv.Do(ctx, req)
	}
	if err != nil {
		return err
	}
	if !res.IsSuccess() {
		return fmt.Errorf("re-INVITE: %d %s", res.StatusCode, res.Reason)
	}
	ack := sip.NewRequest(sip.ACK, target)
	if c.cli != nil {
		return c.cli.WriteRequest(ack)
	}
	return c.srv.WriteRequest(ack)
}

// OnAudio sets the callback for received audio frames (called on the RTP
// read loop).
func (c *PhoneCall) OnAudio(fn func(codec rtpio.Codec, payload []byte)) { c.onAudio.Store(&fn) }

// OnDTMF sets the callback for received RFC 4733 digits.
func (c *PhoneCall) OnDTMF(fn func(rune)) { c.media.Reader.OnDTMF(fn) }

// WriteFrame makes the call the sink of its own RTP reader.
func (c *PhoneCall) WriteFrame(f *rtpio.Frame) {
	if f.Codec == rtpio.CodecEvent {
		return
	}
	if fn := c.onAudio.Load(); fn != nil && *fn != nil {
		(*fn)(f.Codec, f.Payload)
	}
}

// SendAudio sends 20 ms frames filled by next (160 bytes in the call's
// codec) until the call ends or StopAudio.
func (c *PhoneCall) SendAudio(next func(codec rtpio.Codec, dst []byte)) {
	ctx, cancel := context.WithCancel(context.Background())
	c.mu.Lock()
	if c.stopAudio != nil {
		c.stopAudio()
	}
	c.stopAudio = cancel
	c.mu.Unlock()
	go func() {
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		var f rtpio.Frame
		buf := make([]byte, 160)
		ssrc := uint32(time.Now().UnixNano())
		var seq uint16
		var ts uint32
		var n int
		for {
			select {
			case <-ctx.Done():
				return
			case <-c.done:
				return
			case <-tick.C:
			}
			codec := c.Codec()
			next(codec, buf)
			f.Header.SSRC, f.Header.SequenceNumber, f.Header.Timestamp = ssrc, seq, ts
			f.Payload, f.Codec = buf, codec
			seq++
			ts += 160
			if n++; n%50 == 0 {
				// Reports once a second, as a phone's RTCP would (every
				// few seconds); they carry what it lost of our stream.
				c.media.SendReport(time.Now())
			}
			if loss := c.sendLoss.Load(); loss > 0 && rand.Uint32N(1000) < loss {
				continue // lost on the line: a gap in the sequence numbers
			}
			c.media.Writer.WriteFrame(&f)
		}
	}()
}

// Echo sends every audio frame the phone receives straight back, in the
// same read-loop turn, after edit (nil: unchanged) has rewritten its copy
// of the payload; it replaces SendAudio and OnAudio. This is an echo test
// number without a jitter buffer, so the round trip measured at the other
// end has no wait for the phone's own 20 ms clock in it. Reports go out
// once every 50 frames, as SendAudio sends them.
func (c *PhoneCall) Echo(edit func(codec rtpio.Codec, payload []byte)) {
	c.StopAudio()
	var f rtpio.Frame
	buf := make([]byte, rtpio.MTU)
	ssrc := uint32(time.Now().UnixNano())
	var seq uint16
	var ts uint32
	var n int
	fn := func(codec rtpio.Codec, payload []byte) {
		p := buf[:copy(buf, payload)]
		if edit != nil {
			edit(codec, p)
		}
		f.Header.SSRC, f.Header.SequenceNumber, f.Header.Timestamp = ssrc, seq, ts
		f.Payload, f.Codec = p, codec
		seq++
		ts += uint32(len(p)) // 8 kHz codecs: one sample per byte
		if n++; n%50 == 0 {
			c.media.SendReport(time.Now())
		}
		c.media.Writer.WriteFrame(&f)
	}
	c.onAudio.Store(&fn)
}

// SetSendLoss makes SendAudio drop share (0 to 1) of its frames at
// random after numbering them, as a lossy line would.
func (c *PhoneCall) SetSendLoss(share float64) {
	c.sendLoss.Store(uint32(max(0, min(1, share)) * 1000))
}

// RTCPStats returns what ringbridge's RTCP says about the phone's stream.
func (c *PhoneCall) RTCPStats() rtpio.RTCPStats { return c.media.RTCPStats() }

// StopAudio stops SendAudio.
func (c *PhoneCall) StopAudio() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopAudio != nil {
		c.stopAudio()
		c.stopAudio = nil
	}
}

// SendDTMF plays RFC 4733 digits and returns when they are sent.
func (c *PhoneCall) SendDTMF(ctx context.Context, digits string) error {
	return c.media.Writer.SendDTMF(ctx, digits)
}

// RTPReceived counts RTP packets received.
func (c *PhoneCall) RTPReceived() uint64 { return c.media.Reader.Received() }

func (c *PhoneCall) watch(dialogCtx context.Context) {
	select {
	case <-dialogCtx.Done():
		c.end("remote_bye")
	case <-c.done:
	}
}

func (c *PhoneCall) end(reason string) {
	c.once.Do(func() {
		c.mu.Lock()
		c.endReason = reason
		if c.stopAudio != nil {
			c.stopAudio()
		}
		c.mu.Unlock()
		c.media.Close()
		c.phone.mu.Lock()
		delete(c.phone.calls, c.callID)
		c.phone.mu.Unlock()
		close(c.done)
	})
}

func (c *PhoneCall) answerReinvite(req *sip.Request, tx sip.ServerTransaction) {
	rm, err := parseSDP(req.Body())
	if err != nil {
		status, reason := sdpErrorStatus(err)
		respond(tx, req, status, reason)
		return
	}
	c.remoteHold.Store(rm.direction == "sendonly" || rm.direction == "inactive" || rm.addr.Addr().IsUnspecified())
	if !rm.addr.Addr().IsUnspecified() {
		c.media.SetRemote(rm.addr)
	}
	body := buildSDP(c.sessID, c.version.Add(1), c.media.LocalAddr(), c.media.Writer.Format(), false, answerDirection(rm.direction))
	_ = tx.Respond(sip.NewSDPResponseFromRequest(req, body))
}

// authorized challenges an INVITE without valid digest credentials.
func (p *Phone) authorized(req *sip.Request, tx sip.ServerTransaction) bool {
	chal := &digest.Challenge{Realm: p.cfg.Realm, Nonce: fmt.Sprintf("%x", time.Now().UnixNano()), Algorithm: "MD5"}
	if h := req.GetHeader("Authorization"); h != nil {
		cred, err := digest.ParseCredentials(h.Value())
		if err == nil && cred.Username == p.cfg.Username {
			chal.Nonce = cred.Nonce
			want, err := digest.Digest(chal, digest.Options{Method: req.Method.String(), URI: cred.URI, Username: p.cfg.Username, Password: p.cfg.Password})
			if err == nil && want.Response == cred.Response {
				return true
			}
		}
	}
	res := sip.NewResponseFromRequest(req, sip.StatusUnauthorized, "Unauthorized", nil)
	res.AppendHeader(sip.NewHeader("WWW-Authenticate", chal.String()))
	_ = tx.Respond(res)
	return false
}
