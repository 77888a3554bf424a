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

// outboundLeg is a call we place through a trunk.
type outboundLeg struct {
	*leg
	dial         *dialContext
	progress     chan struct{}
	progressOnce sync.Once
	early        chan struct{} // closed once a 18x brought usable SDP
	earlyOnce    sync.Once
	answeredCh   chan struct{}
}

var _ cti.OutboundLeg = (*outboundLeg)(nil)

// EarlyMedia implements cti.EarlyMediaNotifier.
func (l *outboundLeg) EarlyMedia() <-chan struct{} { return l.early }

// Progress implements cti.OutboundLeg.
func (l *outboundLeg) Progress() <-chan struct{} { return l.progress }

// Answered implements cti.OutboundLeg.
func (l *outboundLeg) Answered() <-chan struct{} { return l.answeredCh }

// Dial sends an INVITE through the default trunk and returns at once; the
// leg reports progress, answer or failure on its channels.
func (t *Trunks) Dial(ctx context.Context, req cti.DialRequest) (cti.OutboundLeg, error) {
	trunks := t.trunkList()
	if len(trunks) == 0 {
		return nil, errors.New("no trunk configured for outbound calls")
	}
	if t.clients == nil {
		return nil, errors.New("sip stack not serving")
	}
	tr := trunks[0]
	var nodeHost string
	var nodePort int
	if req.Node != "" {
		h, p, err := net.SplitHostPort(req.Node)
		if err == nil {
			nodePort, err = strconv.Atoi(p)
		}
		if err != nil {
			return nil, fmt.Errorf("node address %q: %w", req.Node, err)
		}
		nodeHost = h
	}
	rtpConn, rtcpConn, err := t.ports.Allocate()
	if err != nil {
		return nil, err
	}
	media := rtpio.NewUDPLeg(rtpConn, rtcpConn, t.ports, rtpio.Format{Codec: rtpio.CodecPCMU, AudioPT: 0, EventPT: defaultEventPT})
	from := req.From
	if tr.CallerID != "" {
		from = tr.CallerID
	}
	recipient := sip.Uri{Scheme: "sip", User: req.To, Host: tr.host, Port: tr.port, UriParams: sip.NewParams()}
	toHost := tr.Domain
	if req.Node != "" {
		// Another node's agent: addressed to that node, sent through the
		// trunk (the front door), which relays it to a node of its own.
		recipient.Host, toHost = nodeHost, nodeHost
		recipient.Port = nodePort
		recipient.UriParams.Add(cti.HandoverParam, req.Handover)
	}
	if tr.Transport != "udp" {
		recipient.UriParams.Add("transport", tr.Transport)
	}
	invite := sip.NewRequest(sip.INVITE, recipient)
	invite.SetTransport(transportName(tr.Transport))
	if req.Node != "" {
		invite.SetDestination(net.JoinHostPort(tr.host, strconv.Itoa(tr.port)))
	}
	fromURI := sip.Uri{Scheme: "sip", User: from, Host: tr.Domain}
	fh := &sip.FromHeader{DisplayName: displayName(tr.CallerName), Address: fromURI, Params: sip.NewParams()}
	fh.Params.Add("tag", sip.GenerateTagN(16))
	invite.AppendHeader(fh)
	// The identity we assert to the carrier (RFC 3325): trunks that
	// trust us take the caller id from here, not from From. An agent's
	// bare extension is no identity a carrier could use, so a number is
	// asserted only when it is the tenant's or already international.
	if tr.CallerID != "" || strings.HasPrefix(from, "+") {
		pai := sip.FromHeader{DisplayName: displayName(tr.CallerName), Address: fromURI}
		invite.AppendHeader(sip.NewHeader("P-Asserted-Identity", pai.Value()))
	}
	invite.AppendHeader(&sip.ToHeader{Address: sip.Uri{Scheme: "sip", User: req.To, Host: toHost}, Params: sip.NewParams()})
	invite.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	t.identify(invite)

	l := &outboundLeg{progress: make(chan struct{}), early: make(chan struct{}), answeredCh: make(chan struct{})}
	l.leg = newLeg(t, tr, req.CallID, "", media)
	// Until the answer the agent is not in the call yet: what they say
	// while it rings (to a colleague, to themselves) must not reach the
	// far end, unless the carrier needs our early RTP.
	media.SetSendPaused(tr.EarlyMedia != EarlyMediaTwoWay)
	invite.SetBody(buildSDP(l.sessID, 1, t.mediaAddr(media), rtpio.Format{}, true, "sendrecv"))

	// The dial outlives the request that started it; only Hangup or the
	// stack's shutdown cancel it.
	dc := newDialContext(t.ctx)
	l.dial = dc
	l.dialCancel = dc.abort
	dlg, err := t.clients.dialogUA(tr.Transport).WriteInvite(dc.ctx, invite)
	if err != nil {
		dc.done()
		media.Close()
		return nil, fmt.Errorf("INVITE to %s: %w", tr.Name, err)
	}
	l.cli = dlg
	l.callID = callIDOf(dlg.InviteRequest)
	l.log = t.log.With("sip_call_id", l.callID, "trunk", tr.Name, "call", req.CallID)
	t.addLeg(l.leg)
	media.Start()
	go l.run(dc.ctx)
	return l, nil
}

// Early media directions (TrunkConfig.EarlyMedia).
const (
	EarlyMediaOneWay = "oneway"
	EarlyMediaTwoWay = "twoway"
)

// displayName cleans a display name for the quoted string sipgo writes:
// no quote, backslash or control character can break out of it.
func displayName(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == '"' || r == '\\' {
			return -1
		}
		return r
	}, strings.TrimSpace(s))
	return truncate(s, 64)
}

func transportName(s string) string {
	switch s {
	case "tcp":
		return "TCP"
	case "tls":
		return "TLS"
	}
	return "UDP"
}

// run waits for the answer (authenticating if challenged), then ACKs and
// watches the dialog until it ends.
func (l *outboundLeg) run(dialCtx context.Context) {
	defer l.dial.done()
	err := l.cli.WaitAnswer(dialCtx, sipgo.AnswerOptions{
		Username: l.trunk.Username,
		Password: l.trunk.Password,
		OnResponse: func(res *sip.Response) error {
			l.dial.gotResponse()
			if res.StatusCode == sip.StatusRinging || res.StatusCode == sip.StatusSessionInProgress {
				if len(res.Body()) > 0 && l.applyRemoteSDP(res.Body()) {
					l.earlyOnce.Do(func() { close(l.early) })
				}
				l.progressOnce.Do(func() { close(l.progress) })
			}
			return nil
		},
	})
	if err != nil {
		l.finish(dialFailure(err, dialCtx))
		l.log.Info("outbound call not answered", "reason", l.EndReason(), "err", err)
		return
	}
	if !l.applyRemoteSDP(l.cli.InviteResponse.Body()) {
		_ = l.cli.Ack(context.Background())
		l.hangupWith(cti.EndFailed)
		return
	}
	if err := l.cli.Ack(context.Background()); err != nil {
		l.log.Warn("ACK failed", "err", err)
	}
	l.answered.Store(true)
	l.media.SetSendPaused(l.remoteHeld.Load())
	l.media.TouchIdle()
	close(l.answeredCh)
	l.monitor(l.cli.Context())
}

// applyRemoteSDP points our RTP at the far end's media from a 183 or 200.
func (l *outboundLeg) applyRemoteSDP(body []byte) bool {
	rm, err := parseSDP(body)
	if err != nil {
		l.log.Warn("far end SDP unusable", "err", err)
		return false
	}
	l.media.SetFormat(rm.format)
	l.media.SetRemote(rm.addr)
	return true
}

// dialFailure turns a failed INVITE into an end reason.
func dialFailure(err error, dialCtx context.Context) cti.EndReason {
	var de *sipgo.ErrDialogResponse
	if errors.As(err, &de) {
		switch de.Res.StatusCode {
		case sip.StatusBusyHere, 600:
			return cti.EndBusy
		case sip.StatusRequestTimeout, sip.StatusTemporarilyUnavailable:
			return cti.EndNoAnswer
		case sip.StatusRequestTerminated:
			return cti.EndCancelled
		case 603:
			return cti.EndRejected
		case sip.StatusNotFound, sip.StatusForbidden, sip.StatusServiceUnavailable:
			return cti.EndUnavailable
		}
		return cti.EndFailed
	}
	if dialCtx.Err() != nil {
		return cti.EndLocalHangup
	}
	return cti.EndFailed
}
