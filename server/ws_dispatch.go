package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	fws "github.com/fasthttp/websocket"
	"github.com/gofiber/contrib/websocket"

	"github.com/ringbridge/ringbridge/cti"
	"github.com/ringbridge/ringbridge/server/wsproto"
)

// wsRequestTimeout bounds one request (an SDP offer, placing a call) so a
// stuck media or trunk operation cannot freeze the agent's connection.
const wsRequestTimeout = 15 * time.Second

// readError is a message we could not use. The connection survives it,
// except when tooLarge.
type readError struct {
	id       string // the request id, when it could be decoded
	msg      string
	tooLarge bool
}

func (e *readError) Error() string {
	if e.tooLarge {
		return "message too large"
	}
	return e.msg
}

// read returns the next message. A *readError describes an unusable
// message; any other error means the connection is finished.
func (a *agentConn) read() (*wsproto.Message, error) {
	typ, r, err := a.c.ws.NextReader()
	if err != nil {
		return nil, err
	}
	limit := a.srv.cfg.WSMaxMessage
	// Reading one byte past the limit tells "exactly at" from "over" without
	// ever buffering more than the limit.
	data, err := io.ReadAll(io.LimitReader(r, int64(limit)+1))
	if err != nil {
		return nil, err
	}
	a.srv.metrics.wsMessages.WithLabelValues(dirIn).Inc()
	if len(data) > limit {
		return nil, &readError{tooLarge: true}
	}
	if typ != websocket.TextMessage {
		return nil, &readError{msg: "binary messages are not supported; send JSON text"}
	}
	m, err := wsproto.Decode(data)
	switch {
	case errors.Is(err, wsproto.ErrNoType):
		return nil, &readError{id: m.ID, msg: err.Error()}
	case err != nil:
		return nil, &readError{id: m.ID, msg: describeJSONError(err)}
	}
	return m, nil
}

// readLoop handles requests until the connection ends.
func (a *agentConn) readLoop() {
	for {
		m, err := a.read()
		var rerr *readError
		switch {
		case errors.As(err, &rerr) && rerr.tooLarge:
			a.tooLarge()
			a.drain()
			return
		case errors.As(err, &rerr):
			a.c.send(badMessage(rerr.id, rerr.msg))
			continue
		case err != nil:
			a.logReadEnd(err)
			if isTimeout(err) {
				// The client missed its pongs; it is probably gone, but if not
				// the code tells it why.
				a.c.closeWith(closePongTimeout, "pong timeout")
			}
			return
		}
		a.c.extendRead(2 * a.srv.cfg.WSPingInterval)
		if reply := a.dispatch(m); reply != nil {
			reply.ID = m.ID
			a.c.send(reply)
		}
	}
}

func (a *agentConn) logReadEnd(err error) {
	// The error types come from fasthttp/websocket itself: contrib
	// re-declares ErrReadLimit as a different value, so errors.Is against
	// contrib's would never match.
	var ce *fws.CloseError
	switch {
	case errors.As(err, &ce):
		a.log.Debug("client closed websocket", "code", ce.Code, "text", ce.Text)
	case isTimeout(err):
		a.log.Info("websocket read timed out (no pong or close)")
	case errors.Is(err, fws.ErrReadLimit):
		a.c.m.wsErrors.WithLabelValues(wsproto.CodeTooLarge).Inc()
		a.log.Info("websocket frame far over the size limit")
	default:
		a.log.Debug("websocket read ended", "err", err)
	}
}

// dispatch runs one request and returns its reply (without id).
func (a *agentConn) dispatch(m *wsproto.Message) *wsproto.Message {
	ss := a.sess
	ctx, cancel := context.WithTimeout(a.ctx, wsRequestTimeout)
	defer cancel()

	if missing := missingField(m); missing != "" {
		return badMessage("", fmt.Sprintf("%q requires %q", m.Type, missing))
	}
	var err error
	switch m.Type {
	case wsproto.TypePing:
		return ack()
	case wsproto.TypeAuth:
		return badMessage("", "already authenticated")
	case wsproto.TypeOffer:
		var sdp string
		if sdp, err = ss.HandleOffer(ctx, m.SDP); err == nil {
			return &wsproto.Message{Type: wsproto.TypeAnswer, SDP: sdp}
		}
	case wsproto.TypeICE:
		err = ss.AddICECandidate(candidateFromWire(m.Candidate))
	case wsproto.TypeDial:
		var ci cti.CallInfo
		if ci, err = ss.Dial(ctx, m.To); err == nil {
			call := callToWire(ci)
			return &wsproto.Message{Type: wsproto.TypeAck, Call: &call}
		}
	case wsproto.TypeAnswer:
		err = ss.Answer(m.CallID)
	case wsproto.TypeReject:
		err = ss.Reject(m.CallID)
	case wsproto.TypeHangup:
		err = ss.Hangup(m.CallID)
	case wsproto.TypeHold:
		err = ss.Hold(m.CallID, true)
	case wsproto.TypeUnhold:
		err = ss.Hold(m.CallID, false)
	case wsproto.TypeDTMF:
		err = ss.SendDTMF(m.CallID, m.Digits)
	case wsproto.TypeTransfer:
		err = ss.Transfer(m.CallID, m.To)
	case wsproto.TypeConsult:
		err = ss.Consult(m.CallID, m.To)
	case wsproto.TypeConsultSwap:
		err = ss.ConsultSwap(m.CallID)
	case wsproto.TypeConsultComplete:
		err = ss.ConsultComplete(m.CallID)
	case wsproto.TypeConsultCancel:
		err = ss.ConsultCancel(m.CallID)
	case wsproto.TypeConference:
		err = ss.Conference(m.CallID)
	case wsproto.TypeStats:
		var b cti.BrowserStats
		if b, err = statsFromWire(m.Stats); err == nil {
			err = ss.ReportStats(b)
		}
	case wsproto.TypeRecording:
		_, err = ss.ControlRecording(ctx, m.CallID, cti.RecordingAction(m.Action))
	case wsproto.TypeStatus:
		var st cti.AgentStatus
		if st, err = cti.ParseAgentStatus(m.Status); err == nil {
			// The status event itself arrives through the session stream,
			// so every connection of the agent sees the same sequence.
			err = ss.SetStatus(st, m.Reason)
		}
	default:
		return badMessage("", fmt.Sprintf("unknown message type %q", m.Type))
	}
	if err != nil {
		return a.errorMessage(m.Type, err)
	}
	return ack()
}

// missingField names the first required field m lacks, or "".
func missingField(m *wsproto.Message) string {
	switch m.Type {
	case wsproto.TypeOffer:
		if m.SDP == "" {
			return "sdp"
		}
	case wsproto.TypeICE:
		if m.Candidate == nil {
			return "candidate"
		}
	case wsproto.TypeDial:
		if m.To == "" {
			return "to"
		}
	case wsproto.TypeAnswer, wsproto.TypeReject, wsproto.TypeHangup, wsproto.TypeHold, wsproto.TypeUnhold,
		wsproto.TypeConsultSwap, wsproto.TypeConsultComplete, wsproto.TypeConsultCancel, wsproto.TypeConference:
		if m.CallID == "" {
			return "callId"
		}
	case wsproto.TypeDTMF:
		if m.CallID == "" {
			return "callId"
		}
		if m.Digits == "" {
			return "digits"
		}
	case wsproto.TypeStatus:
		if m.Status == "" {
			return "status"
		}
	case wsproto.TypeRecording:
		if m.CallID == "" {
			return "callId"
		}
		if m.Action == "" {
			return "action"
		}
	case wsproto.TypeTransfer, wsproto.TypeConsult:
		if m.CallID == "" {
			return "callId"
		}
		if m.To == "" {
			return "to"
		}
	case wsproto.TypeStats:
		switch {
		case m.Stats == nil:
			return "stats"
		case m.Stats.PacketsReceived == nil:
			return "stats.packetsReceived"
		case m.Stats.PacketsLost == nil:
			return "stats.packetsLost"
		case m.Stats.Jitter == nil:
			return "stats.jitter"
		}
	}
	return ""
}

func ack() *wsproto.Message { return &wsproto.Message{Type: wsproto.TypeAck} }

func badMessage(id, msg string) *wsproto.Message {
	return &wsproto.Message{Type: wsproto.TypeError, ID: id, Code: wsproto.CodeBadMessage, Message: msg}
}

// errorMessage turns a domain error into an "error" message. Internal
// errors are logged and reach the client only as a generic text.
func (a *agentConn) errorMessage(op string, err error) *wsproto.Message {
	code := wsCode(cti.ErrorKind(err))
	if errors.Is(err, cti.ErrSessionInUse) {
		code = wsproto.CodeSessionInUse
	}
	msg := cti.ErrorMessage(err)
	if code == wsproto.CodeInternal {
		a.log.Error("websocket request failed", "op", op, "err", err)
		msg = "internal error"
	} else {
		a.log.Debug("websocket request refused", "op", op, "err", err)
	}
	return &wsproto.Message{Type: wsproto.TypeError, Code: code, Message: msg}
}

// wsCode maps a domain error kind to a protocol error code.
func wsCode(k cti.Kind) string {
	switch k {
	case cti.KindNotFound:
		return wsproto.CodeNotFound
	case cti.KindInvalid:
		return wsproto.CodeBadMessage
	case cti.KindUnauthorized:
		return wsproto.CodeUnauthorized
	case cti.KindForbidden:
		return wsproto.CodeForbidden
	case cti.KindConflict:
		return wsproto.CodeConflict
	case cti.KindUnavailable:
		return wsproto.CodeUnavailable
	case cti.KindBusy:
		return wsproto.CodeBusy
	case cti.KindRateLimited:
		return wsproto.CodeRateLimited
	default:
		return wsproto.CodeInternal
	}
}
