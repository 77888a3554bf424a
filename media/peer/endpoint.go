package peer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
	"github.com/ringbridge/ringbridge/cti"
	"github.com/ringbridge/ringbridge/media/rtpio"
)

var _ cti.AgentEndpoint = (*Endpoint)(nil)

// gatherWait bounds how long an answer waits for ICE gathering.
const gatherWait = 3 * time.Second

// pcmuFormat is the browser leg's format until Bind tells us the real
// payload types (the browser's offer chooses the telephone-event PT).
var pcmuFormat = rtpio.Format{Codec: rtpio.CodecPCMU, AudioPT: 0, EventPT: 101}

// Endpoint is one agent session's PeerConnection.
type Endpoint struct {
	id  string
	api *API
	pc  *webrtc.PeerConnection
	ev  cti.AgentEndpointEvents

	reader *rtpio.Reader
	writer *rtpio.Writer
	track  *outTrack

	mu       sync.Mutex // serialises offers; guards closed against SendDTMF
	hasTrack bool
	closed   bool
	reports  rtpio.Reports // the browser's RTCP about our stream, and ours about its (quality.go)
	rep      reportCounts  // at the last report (reports.go)

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// newPionEndpoint creates the PeerConnection for one agent session.
func (a *API) newPionEndpoint(id string, ev cti.AgentEndpointEvents) (*Endpoint, error) {
	cert, err := a.certificate()
	if err != nil {
		return nil, err
	}
	pc, err := a.api.NewPeerConnection(webrtc.Configuration{Certificates: []webrtc.Certificate{cert}})
	if err != nil {
		return nil, fmt.Errorf("new peer connection: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	e := &Endpoint{id: id, api: a, pc: pc, ev: ev, reader: rtpio.NewReader(pcmuFormat), ctx: ctx, cancel: cancel}
	e.track = &outTrack{id: "audio", stream: "ringbridge"}
	e.writer = rtpio.NewWriter(0, pcmuFormat, e.track.write)
	e.track.writer = e.writer
	if ev.OnDTMF != nil {
		e.reader.OnDTMF(ev.OnDTMF)
	}
	pc.OnTrack(func(tr *webrtc.TrackRemote, recv *webrtc.RTPReceiver) {
		if tr.Kind() != webrtc.RTPCodecTypeAudio {
			return
		}
		f := pcmuFormat
		for _, c := range recv.GetParameters().Codecs {
			switch strings.ToLower(c.MimeType) {
			case "audio/pcmu":
				f.AudioPT = uint8(c.PayloadType)
			case "audio/telephone-event":
				f.EventPT = uint8(c.PayloadType)
			}
		}
		e.reader.SetFormat(f)
		e.wg.Add(1)
		go e.readLoop(tr)
	})
	pc.OnICECandidate(func(c *webrtc.ICECandidate) {
		if c == nil || ev.OnICECandidate == nil {
			return
		}
		init := c.ToJSON()
		ev.OnICECandidate(cti.ICECandidate{Candidate: init.Candidate, SDPMid: init.SDPMid,
			SDPMLineIndex: init.SDPMLineIndex, UsernameFragment: init.UsernameFragment})
	})
	pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		if ev.OnConnectionState != nil {
			ev.OnConnectionState(s.String())
		}
	})
	a.reports.add(e)
	return e, nil
}

// EndpointID implements cti.Endpoint.
func (e *Endpoint) EndpointID() string { return e.id }

// Reader is the browser-to-server half (a media source).
func (e *Endpoint) Reader() *rtpio.Reader { return e.reader }

// Writer is the server-to-browser half (a media sink).
func (e *Endpoint) Writer() *rtpio.Writer { return e.writer }

// HandleOffer applies an offer (first one, or an ICE restart) and returns
// the answer with our candidates in it: with one muxed port they are known
// at once, so the browser rarely needs trickled ones. Any candidate that
// comes later is trickled through OnICECandidate as well.
func (e *Endpoint) HandleOffer(ctx context.Context, sdp string) (string, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: sdp}); err != nil {
		return "", fmt.Errorf("remote description: %w", err)
	}
	if !e.hasTrack {
		// AddTrack attaches to the audio transceiver the offer created,
		// making it sendrecv.
		sender, err := e.pc.AddTrack(e.track)
		if err != nil {
			return "", fmt.Errorf("add track: %w", err)
		}
		e.hasTrack = true
		e.wg.Add(1)
		go e.readSenderRTCP(sender)
	}
	answer, err := e.pc.CreateAnswer(nil)
	if err != nil {
		return "", fmt.Errorf("create answer: %w", err)
	}
	gathered := webrtc.GatheringCompletePromise(e.pc)
	if err := e.pc.SetLocalDescription(answer); err != nil {
		return "", fmt.Errorf("local description: %w", err)
	}
	// Host candidates on the muxed port are known at once, so this wait
	// is short; it is bounded because a restart under load (or a slow
	// interface) must not hold the agent's signalling. Candidates found
	// later still reach the browser by trickle (OnICECandidate).
	wait := time.NewTimer(gatherWait)
	defer wait.Stop()
	select {
	case <-gathered:
	case <-wait.C:
		e.api.log.Warn("answering before ICE gathering completed", "session", e.id)
	case <-ctx.Done():
		return "", fmt.Errorf("gathering candidates: %w", ctx.Err())
	}
	return e.pc.LocalDescription().SDP, nil
}

// AddICECandidate adds a browser candidate. An empty candidate marks the
// end of candidates and is accepted.
func (e *Endpoint) AddICECandidate(c cti.ICECandidate) error {
	return e.pc.AddICECandidate(webrtc.ICECandidateInit{
		Candidate: c.Candidate, SDPMid: c.SDPMid, SDPMLineIndex: c.SDPMLineIndex, UsernameFragment: c.UsernameFragment,
	})
}

// SendDTMF plays RFC 4733 digits to the browser (from the other party of
// an internal call).
func (e *Endpoint) SendDTMF(digits string) error {
	// Under mu, so that Close never waits while a sender is being added.
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return errors.New("session closed")
	}
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		_ = e.writer.SendDTMF(e.ctx, digits)
	}()
	return nil
}

func (e *Endpoint) readLoop(tr *webrtc.TrackRemote) {
	defer e.wg.Done()
	buf := make([]byte, rtpio.MTU)
	for {
		n, _, err := tr.Read(buf)
		if err != nil {
			if errors.Is(err, io.EOF) || e.ctx.Err() != nil {
				return
			}
			continue
		}
		e.reader.Deliver(buf[:n])
	}
}

// Close ends the PeerConnection and waits for its goroutines.
func (e *Endpoint) Close() error {
	e.mu.Lock()
	e.closed = true
	e.mu.Unlock()
	e.cancel()
	e.api.reports.remove(e)
	e.reader.Sink.Store(nil)
	err := e.pc.Close()
	e.wg.Wait()
	return err
}

// outTrack is our own TrackLocal. pion's TrackLocalStaticRTP rewrites
// every packet's payload type to the first negotiated codec, which would
// turn telephone-events into noise; this one writes headers as the
// rtpio.Writer built them.
type outTrack struct {
	id, stream string
	writer     *rtpio.Writer
	ws         atomic.Pointer[webrtc.TrackLocalWriter]
	octets     atomic.Uint64 // payload bytes sent, for sender reports
}

var errUnbound = errors.New("track not bound yet")

func (t *outTrack) write(h *rtp.Header, payload []byte, _ *rtpio.SendQueue) error {
	ws := t.ws.Load()
	if ws == nil {
		return errUnbound
	}
	_, err := (*ws).WriteRTP(h, payload)
	if err == nil {
		t.octets.Add(uint64(len(payload)))
	}
	return err
}

func (t *outTrack) Bind(ctx webrtc.TrackLocalContext) (webrtc.RTPCodecParameters, error) {
	var pcmu *webrtc.RTPCodecParameters
	f := pcmuFormat
	f.EventPT = 0
	for _, c := range ctx.CodecParameters() {
		switch strings.ToLower(c.MimeType) {
		case "audio/pcmu":
			c := c
			pcmu = &c
			f.AudioPT = uint8(c.PayloadType)
		case "audio/telephone-event":
			f.EventPT = uint8(c.PayloadType)
		}
	}
	if pcmu == nil {
		return webrtc.RTPCodecParameters{}, webrtc.ErrUnsupportedCodec
	}
	t.writer.SetSSRC(uint32(ctx.SSRC()))
	t.writer.SetFormat(f)
	ws := ctx.WriteStream()
	t.ws.Store(&ws)
	return *pcmu, nil
}

func (t *outTrack) Unbind(webrtc.TrackLocalContext) error {
	t.ws.Store(nil)
	return nil
}

func (t *outTrack) ID() string                { return t.id }
func (t *outTrack) RID() string               { return "" }
func (t *outTrack) StreamID() string          { return t.stream }
func (t *outTrack) Kind() webrtc.RTPCodecType { return webrtc.RTPCodecTypeAudio }
