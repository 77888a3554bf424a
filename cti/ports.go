package cti

import (
	"context"
	"time"
)

// The interfaces in this file are what the call-center core needs from the
// voice path. media implements them; tests may use the fakes in ctitest.
// Signalling crosses this boundary as opaque strings (SDP, ICE), so cti
// never sees a SIP or WebRTC type.

// ICECandidate mirrors the browser's RTCIceCandidateInit.
type ICECandidate struct {
	Candidate        string
	SDPMid           *string
	SDPMLineIndex    *uint16
	UsernameFragment *string
}

// Endpoint is anything that carries a party's audio: an agent's browser
// session or a SIP leg. cti hands endpoints to MediaEngine.Connect without
// knowing what they are.
type Endpoint interface {
	// EndpointID names the endpoint in logs.
	EndpointID() string
}

// AgentEndpointEvents are the callbacks an agent endpoint reports on. They
// are called from media goroutines and must not block.
type AgentEndpointEvents struct {
	OnICECandidate func(ICECandidate)
	OnDTMF         func(digit rune)
	// OnConnectionState reports the PeerConnection state ("connected",
	// "disconnected", "failed", "closed").
	OnConnectionState func(state string)
}

// AgentEndpoint is the media side of one agent session: one PeerConnection
// created at sign-in and reused for every call.
type AgentEndpoint interface {
	Endpoint
	// HandleOffer applies a browser offer (initial or ICE restart) and
	// returns the answer SDP.
	HandleOffer(ctx context.Context, sdp string) (string, error)
	AddICECandidate(c ICECandidate) error
	// SendDTMF plays RFC 4733 digits toward the browser.
	SendDTMF(digits string) error
	Close() error
}

// SIPLeg is one SIP dialog of a call, inbound or outbound.
type SIPLeg interface {
	Endpoint
	// CallID is the SIP Call-ID, for logs and CDRs.
	CallID() string
	// Hangup ends the leg: BYE when established, CANCEL while dialing, a
	// final error response while an inbound leg is unanswered. Idempotent.
	Hangup(ctx context.Context) error
	// Done is closed once the leg has ended, whichever side ended it.
	Done() <-chan struct{}
	// EndReason says why the leg ended (valid after Done).
	EndReason() EndReason
	// Hold sends a re-INVITE putting the far end on hold (or resuming it).
	Hold(ctx context.Context, on bool) error
	// SendDTMF plays RFC 4733 digits toward the far end.
	SendDTMF(digits string) error
	// OnDTMF registers the callback for digits received from the far end.
	OnDTMF(func(digit rune))
}

// InboundLeg is a SIP call offered to us by a trunk.
type InboundLeg interface {
	SIPLeg
	// Ringing sends 180 Ringing.
	Ringing(ctx context.Context) error
	// Answer sends 200 OK with our SDP and waits for the ACK.
	Answer(ctx context.Context) error
	// Reject refuses the call with a final error response; the voice path
	// maps why to a SIP status (no answer 480, rejected or busy 486,
	// shutdown or failure 503, …).
	Reject(ctx context.Context, why EndReason) error
}

// OutboundLeg is a SIP call we placed through a trunk.
type OutboundLeg interface {
	SIPLeg
	// Progress is closed on the first 180/183 from the far end.
	Progress() <-chan struct{}
	// Answered is closed on 200 OK (after our ACK).
	Answered() <-chan struct{}
}

// InboundCall is what the trunk layer tells cti about a new INVITE.
type InboundCall struct {
	Trunk string // configured trunk name the INVITE came from
	From  string // caller number (user part)
	To    string // called number (user part)
	Leg   InboundLeg
	// Handover is the token of a call another node redirected here
	// (cluster.go, RedirectError); "" for a call from the trunk.
	Handover string
}

// InboundHandler is implemented by Service: the trunk layer offers every
// accepted INVITE to it. A returned error is mapped to a SIP status by kind
// (NotFound 404, Busy 486, Unavailable 480, Forbidden 403, else 500); nil
// means cti now owns the leg and will ring, answer or reject it.
type InboundHandler interface {
	InboundCall(ctx context.Context, c InboundCall) error
}

// DialRequest asks the trunk layer to place an outbound call.
type DialRequest struct {
	TenantID string
	CallID   string // our call id, for logs
	From     string // caller id presented to the far end
	To       string // number to dial, already checked against dialing rules
	// Node, when set, is another node's SIP address (host:port): the
	// INVITE goes through the trunk (the front door) to To at that node,
	// carrying Handover (cluster_queue.go).
	Node     string
	Handover string
}

// Connection is a live audio path between two endpoints.
type Connection interface {
	// Hold stops relaying audio both ways while on.
	Hold(on bool)
	// Close unlinks the endpoints; it never ends the legs themselves.
	Close()
}

// MediaEngine is the voice path as cti sees it.
type MediaEngine interface {
	NewAgentEndpoint(ctx context.Context, id string, ev AgentEndpointEvents) (AgentEndpoint, error)
	Dial(ctx context.Context, req DialRequest) (OutboundLeg, error)
	// Connect relays audio (and RFC 4733 events) between a and b,
	// converting codecs where the two differ.
	Connect(a, b Endpoint) (Connection, error)
}

// RecordingRequest asks the voice path to start recording a call.
type RecordingRequest struct {
	ID       string // our recording id ("rec_…"), also the file's name
	CallID   string
	TenantID string
	// Paused starts the recording paused (on-demand recording): it takes
	// no audio until Resume, and its time starts at that first Resume.
	Paused bool
}

// RecordingFile is a finished recording.
type RecordingFile struct {
	Path     string // where the file is, for the store and downloads
	Duration time.Duration
	Size     int64 // bytes
}

// Recording is a call's recording in progress.
type Recording interface {
	// Attach makes the recording hear conn, a Connection from
	// MediaEngine.Connect: audio from its first endpoint goes to the left
	// channel, from the second to the right. Attaching to a new
	// connection (a relink) carries on in the same file; time unlinked is
	// silence.
	Attach(conn Connection) error
	// Pause makes the recording silent until Resume (a card number read
	// out) and returns the position in the file where the silence starts.
	Pause() time.Duration
	// Resume takes audio again and returns the position where it does.
	Resume() time.Duration
	// Stop ends the recording and returns the complete file.
	Stop() (RecordingFile, error)
}

// Recorder records calls. The MediaEngine implements it when recordings
// are configured; Service finds it by type assertion.
type Recorder interface {
	StartRecording(ctx context.Context, req RecordingRequest) (Recording, error)
	// RecoverRecording completes a recording that a crash interrupted
	// (the audio up to about a second before it); a recording already
	// complete is returned as it is.
	RecoverRecording(ctx context.Context, req RecordingRequest) (RecordingFile, error)
	// RecordEndpoint records what one endpoint sends (a caller leaving a
	// voicemail), on the recording's right channel, until Stop.
	RecordEndpoint(ctx context.Context, req RecordingRequest, ep Endpoint) (Recording, error)
	// SweepRecordings removes what interrupted recordings left that no
	// call claims, and returns the files removed; it runs after every
	// claimed one was recovered.
	SweepRecordings(ctx context.Context) ([]string, error)
}

// Sound is one thing to play to a party who is talking to nobody (a
// queued caller): hold music, a beep, or in-band DTMF digits.
type Sound struct {
	// Music is a WAV file's path; empty (with no tone and no digits):
	// the built-in hold music.
	Music string
	// ToneHz plays a beep of that frequency for Length.
	ToneHz float64
	Length time.Duration
	// Digits plays DTMF digits in-band (100 ms each, 100 ms apart).
	Digits string
	// Ringback plays the ringing tone (425 Hz, 1 s on, 4 s off) for ever.
	Ringback bool
	// Audio is an 8 kHz mono 16-bit WAV file held in memory (an uploaded
	// prompt), played once; Length is how long it lasts.
	Audio []byte
}

// EarlyMediaNotifier is implemented by outbound legs that can tell when
// the far end starts sending early media (a 180 or 183 with SDP): until
// then a ringing far end sends nothing, so the caller is played ringback.
type EarlyMediaNotifier interface {
	EarlyMedia() <-chan struct{}
}

// Player plays sounds into an endpoint while it is linked to no one.
type Player interface {
	// Play plays sounds in order, each sound once and the last one again
	// and again when loop is set, until Stop.
	Play(ep Endpoint, sounds []Sound, loop bool) (Playback, error)
}

// Playback is a Play in progress.
type Playback interface {
	// Stop ends the playback and waits until no more audio is written.
	// Idempotent.
	Stop()
}

// HeldConnector is implemented by media engines that can create a
// connection already on hold, linking nothing until it is resumed; Service
// finds it by type assertion and falls back to Connect then Hold.
type HeldConnector interface {
	ConnectHeld(a, b Endpoint) (Connection, error)
}

// MixMember is one endpoint in a mix and the members it hears, as indexes
// into the mix's member list (never itself).
type MixMember struct {
	Endpoint Endpoint
	Hears    []int
	// Beep plays the member a short tone as the mix starts (a supervisor
	// joining is announced to the agent).
	Beep bool
}

// Mixer mixes more than two endpoints: a conference, or a supervisor
// listening, whispering or barging in. The MediaEngine implements it;
// Service finds it by type assertion. The returned Connection's Hold does
// nothing (hold is who hears whom); a Recording attached to it records
// the first member on the left channel and what that member hears on the
// right.
type Mixer interface {
	Mix(members []MixMember) (Connection, error)
}
