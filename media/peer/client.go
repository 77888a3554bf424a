package peer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/dtls/v3"
	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/interceptor/pkg/report"
	"github.com/pion/webrtc/v4"
	"github.com/ringbridge/ringbridge/media/rtpio"
)

// Client is a Go WebRTC agent that behaves like the browser softphone: it
// offers one audio transceiver with PCMU and telephone-event, sends 20 ms
// frames and receives the server's audio. The benchmark and the
// integration tests use it as the agent side of real calls.
type Client struct {
	pc     *webrtc.PeerConnection
	track  *outTrack
	writer *rtpio.Writer
	reader *rtpio.Reader
	onAud  func([]byte)

	connected chan struct{}
	connOnce  sync.Once
	// sendLoss is the share of frames SendAudio drops, in 1/1000 (a
	// client on a lossy network).
	sendLoss atomic.Uint32
	// muted stops SendAudio's packets (not its clock), as the softphone
	// replacing its microphone track with none between calls.
	muted  atomic.Bool
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	mu     sync.Mutex
}

// ClientAPI builds Clients; one is shared by many clients in a benchmark.
type ClientAPI struct {
	api *webrtc.API
	cfg webrtc.Configuration
}

// NewClientAPI returns an API for loopback clients.
func NewClientAPI() (*ClientAPI, error) {
	return NewClientAPIWith(ClientOptions{})
}

// ClientOptions shape a client's network for tests that run it outside
// loopback (network namespaces behind NAT, a firewall, a TURN relay).
type ClientOptions struct {
	// AllInterfaces gathers on every interface but loopback (default:
	// loopback only).
	AllInterfaces bool
	// TCP gathers ICE-TCP (active) candidates instead of UDP ones.
	TCP bool
	// ICEServers are STUN/TURN servers, as the welcome hands them out.
	ICEServers []ICEServer
	// RelayOnly uses TURN relay candidates only (iceTransportPolicy
	// "relay").
	RelayOnly bool
	// ReportInterval is how often sender and receiver reports go out
	// (default 1 s, which tests want; Chrome sends audio reports about
	// every 5 s, which the benchmark uses).
	ReportInterval time.Duration
	// SRTPProfiles limits the SRTP profiles the client offers in DTLS
	// (default pion's, which prefer AES-GCM as browsers do).
	SRTPProfiles []dtls.SRTPProtectionProfile
}

// ICEServer is one STUN or TURN server for a client.
type ICEServer struct {
	URLs       []string
	Username   string
	Credential string
}

// NewClientAPIWith returns an API whose clients use opts.
func NewClientAPIWith(opts ClientOptions) (*ClientAPI, error) {
	me := &webrtc.MediaEngine{}
	if err := me.RegisterCodec(webrtc.RTPCodecParameters{
		RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypePCMU, ClockRate: 8000, Channels: 1},
		PayloadType:        0,
	}, webrtc.RTPCodecTypeAudio); err != nil {
		return nil, err
	}
	// Chrome offers telephone-event at a dynamic PT other than ours; use
	// 126 so tests exercise the mapping.
	if err := me.RegisterCodec(webrtc.RTPCodecParameters{
		RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: "audio/telephone-event", ClockRate: 8000, Channels: 1, SDPFmtpLine: telephoneEventFmtp},
		PayloadType:        126,
	}, webrtc.RTPCodecTypeAudio); err != nil {
		return nil, err
	}
	// Reports both ways, as a browser sends them: the server measures
	// the round trip and the client's loss from them.
	reg := &interceptor.Registry{}
	if opts.ReportInterval > 0 {
		rr, err := report.NewReceiverInterceptor(report.ReceiverInterval(opts.ReportInterval))
		if err != nil {
			return nil, err
		}
		sr, err := report.NewSenderInterceptor(report.SenderInterval(opts.ReportInterval))
		if err != nil {
			return nil, err
		}
		reg.Add(rr)
		reg.Add(sr)
	} else if err := webrtc.ConfigureRTCPReports(reg); err != nil {
		return nil, err
	}
	se := webrtc.SettingEngine{}
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	if len(opts.SRTPProfiles) > 0 {
		se.SetSRTPProtectionProfiles(opts.SRTPProfiles...)
	}
	if opts.TCP {
		se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeTCP4})
	} else {
		se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	}
	if opts.AllInterfaces {
		se.SetInterfaceFilter(func(name string) bool { return name != "lo" })
	} else {
		se.SetIncludeLoopbackCandidate(true)
		se.SetInterfaceFilter(func(name string) bool { return name == "lo" })
	}
	cfg := webrtc.Configuration{}
	for _, s := range opts.ICEServers {
		cfg.ICEServers = append(cfg.ICEServers, webrtc.ICEServer{URLs: s.URLs, Username: s.Username, Credential: s.Credential})
	}
	if opts.RelayOnly {
		cfg.ICETransportPolicy = webrtc.ICETransportPolicyRelay
	}
	return &ClientAPI{api: webrtc.NewAPI(webrtc.WithMediaEngine(me), webrtc.WithInterceptorRegistry(reg), webrtc.WithSettingEngine(se)), cfg: cfg}, nil
}

// NewClient creates a client with an audio transceiver.
func (a *ClientAPI) NewClient() (*Client, error) {
	pc, err := a.api.NewPeerConnection(a.cfg)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	c := &Client{pc: pc, connected: make(chan struct{}), ctx: ctx, cancel: cancel, reader: rtpio.NewReader(pcmuFormat)}
	c.track = &outTrack{id: "mic", stream: "client"}
	c.writer = rtpio.NewWriter(0, pcmuFormat, c.track.write)
	c.track.writer = c.writer
	if _, err := pc.AddTransceiverFromTrack(c.track, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendrecv}); err != nil {
		_ = pc.Close()
		return nil, err
	}
	c.reader.Sink.Store(sinkFunc(func(f *rtpio.Frame) {
		if f.Codec == rtpio.CodecEvent {
			return
		}
		c.mu.Lock()
		fn := c.onAud
		c.mu.Unlock()
		if fn != nil {
			fn(f.Payload)
		}
	}))
	pc.OnTrack(func(tr *webrtc.TrackRemote, recv *webrtc.RTPReceiver) {
		f := pcmuFormat
		for _, p := range recv.GetParameters().Codecs {
			if strings.EqualFold(p.MimeType, "audio/telephone-event") {
				f.EventPT = uint8(p.PayloadType)
			}
		}
		c.reader.SetFormat(f)
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			buf := make([]byte, rtpio.MTU)
			for {
				n, _, err := tr.Read(buf)
				if err != nil {
					if errors.Is(err, io.EOF) || c.ctx.Err() != nil {
						return
					}
					continue
				}
				c.reader.Deliver(buf[:n])
			}
		}()
	})
	pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		if s == webrtc.PeerConnectionStateConnected {
			c.connOnce.Do(func() { close(c.connected) })
		}
	})
	return c, nil
}

type sinkFunc func(*rtpio.Frame)

func (f sinkFunc) WriteFrame(fr *rtpio.Frame) { f(fr) }

// Offer creates the offer with all candidates in it.
func (c *Client) Offer(ctx context.Context, iceRestart bool) (string, error) {
	offer, err := c.pc.CreateOffer(&webrtc.OfferOptions{ICERestart: iceRestart})
	if err != nil {
		return "", err
	}
	done := webrtc.GatheringCompletePromise(c.pc)
	if err := c.pc.SetLocalDescription(offer); err != nil {
		return "", err
	}
	select {
	case <-done:
	case <-ctx.Done():
		return "", ctx.Err()
	}
	return c.pc.LocalDescription().SDP, nil
}

// SetAnswer applies the server's answer.
func (c *Client) SetAnswer(sdp string) error {
	return c.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: sdp})
}

// AddCandidate adds a candidate the server trickled.
func (c *Client) AddCandidate(candidate string, sdpMid *string, sdpMLineIndex *uint16) error {
	return c.pc.AddICECandidate(webrtc.ICECandidateInit{Candidate: candidate, SDPMid: sdpMid, SDPMLineIndex: sdpMLineIndex})
}

// Connected is closed once ICE and DTLS are up.
func (c *Client) Connected() <-chan struct{} { return c.connected }

// OnAudio sets the callback for received PCMU payloads.
func (c *Client) OnAudio(fn func(payload []byte)) {
	c.mu.Lock()
	c.onAud = fn
	c.mu.Unlock()
}

// OnDTMF sets the callback for received RFC 4733 digits.
func (c *Client) OnDTMF(fn func(rune)) { c.reader.OnDTMF(fn) }

// SendAudio sends a PCMU frame filled by next every 20 ms until Close.
func (c *Client) SendAudio(next func(dst []byte)) {
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		buf := make([]byte, 160)
		var f rtpio.Frame
		f.Header.SSRC = rand.Uint32()
		for {
			select {
			case <-c.ctx.Done():
				return
			case <-tick.C:
			}
			if c.muted.Load() {
				// Sequence numbers continue without a gap after the
				// pause, the RTP clock runs on (Chrome does the same).
				f.Header.Timestamp += 160
				continue
			}
			next(buf)
			f.Payload, f.Codec = buf, rtpio.CodecPCMU
			if loss := c.sendLoss.Load(); loss == 0 || rand.Uint32N(1000) >= loss {
				c.writer.WriteFrame(&f)
			} // else lost on the way: a gap in the sequence numbers
			f.Header.SequenceNumber++
			f.Header.Timestamp += 160
		}
	}()
}

// Mute stops (true) or resumes SendAudio's packets without
// renegotiation, as the softphone does between calls; RTCP continues.
func (c *Client) Mute(on bool) { c.muted.Store(on) }

// SetSendLoss makes SendAudio drop share (0 to 1) of its frames at
// random after numbering them, as a lossy network would.
func (c *Client) SetSendLoss(share float64) {
	c.sendLoss.Store(uint32(max(0, min(1, share)) * 1000))
}

// SendDTMF sends RFC 4733 digits, as Chrome's RTCDTMFSender does.
func (c *Client) SendDTMF(ctx context.Context, digits string) error {
	return c.writer.SendDTMF(ctx, digits)
}

// Received counts RTP packets from the server.
func (c *Client) Received() uint64 { return c.reader.Received() }

// Close ends the client.
func (c *Client) Close() error {
	c.cancel()
	err := c.pc.Close()
	c.wg.Wait()
	if err != nil {
		return fmt.Errorf("close client: %w", err)
	}
	return nil
}
