// Package wsproto defines the JSON messages of the agent websocket
// (/ws/agent). It is shared by the server, the Go test agent and
// docs/protocol.md; the browser client in frontend/ mirrors it.
//
// Every message is one JSON object with a "type". Requests from the client
// may carry an "id"; the server answers each such request with exactly one
// "ack" or "error" carrying the same id. Events from the server carry no id.
package wsproto

import (
	"encoding/json"
	"errors"
)

// Version is the protocol version announced in "welcome". Additive changes
// (new optional fields, new message types) keep the number; anything that
// changes the meaning of an existing field bumps it.
const Version = 1

// Client → server message types.
const (
	TypeAuth     = "auth"     // first message: token (and resume to re-attach a session)
	TypeOffer    = "offer"    // SDP offer for the session's PeerConnection (also ICE restart)
	TypeICE      = "ice"      // trickle ICE candidate (both directions)
	TypeDial     = "dial"     // place a call to a number or extension
	TypeAnswer   = "answer"   // answer a ringing call (server → client: SDP answer)
	TypeReject   = "reject"   // decline a ringing call
	TypeHangup   = "hangup"   // end a call
	TypeHold     = "hold"     // put a call on hold
	TypeUnhold   = "unhold"   // resume a held call
	TypeDTMF     = "dtmf"     // send digits (server → client: digits received)
	TypeStatus   = "status"   // set agent status (server → client: status changed)
	TypeTransfer = "transfer" // blind-transfer an answered call to an extension or number
	TypePing     = "ping"     // keep-alive; answered with ack
	// Attended transfer and conference: consult an extension or number
	// (to) while the caller waits with music, then complete, swap,
	// cancel or join all three.
	TypeConsult         = "consult"
	TypeConsultSwap     = "consultSwap"
	TypeConsultComplete = "consultComplete"
	TypeConsultCancel   = "consultCancel"
	TypeConference      = "conference"
	// TypeStats carries the browser's statistics of its PeerConnection
	// (at most one a second; more are refused with rate_limited).
	TypeStats = "stats"
	// TypeRecording starts, pauses or resumes a call's recording
	// (action: start | pause | resume); the call message that follows
	// carries the new recording state.
	TypeRecording = "recording"
)

// Server → client message types.
const (
	TypeWelcome = "welcome" // after successful auth
	TypeAck     = "ack"     // success reply to a request id
	TypeError   = "error"   // failure reply to a request id, or a session-level error
	TypeCall    = "call"    // call state changed
	// TypeDraining: the server is stopping; calls in progress go on until
	// Until, new calls are refused. Sign in again once it is back.
	TypeDraining = "draining"
	// TypeSnapshot and TypeDelta are the supervisor feed (/ws/supervisor):
	// the tenant's live picture, then its numbered changes.
	TypeSnapshot = "snapshot"
	TypeDelta    = "delta"
	// TypeQuality: a leg of the agent's call changed quality level.
	TypeQuality = "quality"
)

// Error codes carried in Message.Code of "error" messages.
const (
	CodeBadMessage     = "bad_message"  // not JSON, unknown type, missing field
	CodeUnauthorized   = "unauthorized" // missing, bad or expired token
	CodeForbidden      = "forbidden"    // not allowed (e.g. dialing rules)
	CodeNotFound       = "not_found"    // unknown call or destination
	CodeConflict       = "conflict"     // wrong state (answering an ended call)
	CodeUnavailable    = "unavailable"  // trunk down, agent offline, shutting down
	CodeBusy           = "busy"         // destination busy
	CodeRateLimited    = "rate_limited"
	CodeTooSlow        = "too_slow"         // a supervisor feed fell behind; reconnect for a snapshot     // too many requests of this kind (status changes); retry later
	CodeInternal       = "internal"         // server fault; details are in the server log
	CodeTooLarge       = "too_large"        // message over the size limit
	CodeSessionReplace = "session_replaced" // the agent signed in elsewhere
	CodeSessionInUse   = "session_in_use"   // another tab holds the session; retry with takeover
	CodeRevoked        = "revoked"          // the account was disabled, deleted, changed or signed out everywhere; sign in again
)

// Message is the single envelope for every message. Only the fields that a
// type documents are set; the rest are omitted from the JSON.
type Message struct {
	Type string `json:"type"`
	ID   string `json:"id,omitempty"`

	// supervisor feed: the snapshot or one delta (cti.Snapshot, cti.Delta)
	Snapshot json.RawMessage `json:"snapshot,omitempty"`
	Delta    json.RawMessage `json:"delta,omitempty"`

	// auth
	Token  string `json:"token,omitempty"`
	Resume string `json:"resume,omitempty"` // session id from a previous welcome
	// Takeover moves the agent's session (and any call in progress) from
	// another open tab to this connection.
	Takeover bool `json:"takeover,omitempty"`

	// offer / answer (SDP)
	SDP string `json:"sdp,omitempty"`

	// ice
	Candidate *ICECandidate `json:"candidate,omitempty"`

	// dial, transfer
	To string `json:"to,omitempty"`

	// recording: start | pause | resume
	Action string `json:"action,omitempty"`

	// answer / reject / hangup / hold / unhold / dtmf
	CallID string `json:"callId,omitempty"`
	Digits string `json:"digits,omitempty"`

	// status
	Status string `json:"status,omitempty"` // available | away
	Reason string `json:"reason,omitempty"` // away reason
	Until  string `json:"until,omitempty"`  // end of wrap-up (RFC 3339)
	Since  string `json:"since,omitempty"`  // when the status began (RFC 3339), on status messages

	// welcome
	Welcome *Welcome `json:"welcome,omitempty"`

	// call
	Call *Call `json:"call,omitempty"`

	// stats (client → server)
	Stats *Stats `json:"stats,omitempty"`
	// quality (server → client)
	Quality *Quality `json:"quality,omitempty"`

	// error
	Code    string `json:"code,omitempty"`
	Message string `json:"message,omitempty"`
}

// ICECandidate mirrors RTCIceCandidateInit.
type ICECandidate struct {
	Candidate        string  `json:"candidate"`
	SDPMid           *string `json:"sdpMid,omitempty"`
	SDPMLineIndex    *uint16 `json:"sdpMLineIndex,omitempty"`
	UsernameFragment *string `json:"usernameFragment,omitempty"`
}

// ICEServer mirrors RTCIceServer.
type ICEServer struct {
	URLs       []string `json:"urls"`
	Username   string   `json:"username,omitempty"`
	Credential string   `json:"credential,omitempty"`
}

// Welcome describes the signed-in session.
type Welcome struct {
	Version   int    `json:"version"`
	SessionID string `json:"sessionId"`
	TenantID  string `json:"tenantId"`
	UserID    string `json:"userId"`
	Username  string `json:"username"`
	// DisplayName is the user's name for the widget header (may be empty).
	DisplayName string `json:"displayName,omitempty"`
	Extension   string `json:"extension"`
	Status      string `json:"status"`
	Reason      string `json:"reason,omitempty"`
	Until       string `json:"until,omitempty"`
	// StatusSince is when the status began (RFC 3339).
	StatusSince string      `json:"statusSince,omitempty"`
	ICEServers  []ICEServer `json:"iceServers"`
	Calls       []Call      `json:"calls"` // calls in progress (resume, reload, takeover)
	// AwayReasons are the codes offered when going away (empty: free text).
	AwayReasons []string `json:"awayReasons"`
	// WrapUpSeconds is the after-call time (0: no wrap-up).
	WrapUpSeconds int `json:"wrapUpSeconds"`
}

// Call is the client's view of a call.
type Call struct {
	ID         string `json:"id"`
	Direction  string `json:"direction"` // inbound | outbound | internal
	State      string `json:"state"`     // ringing | dialing | early | active | held | ended
	From       string `json:"from"`
	To         string `json:"to"`
	Remote     string `json:"remote"` // the other party's number or extension
	StartedAt  string `json:"startedAt"`
	AnsweredAt string `json:"answeredAt,omitempty"`
	EndedAt    string `json:"endedAt,omitempty"`
	EndReason  string `json:"endReason,omitempty"`
	// Origin is "click_to_call" for calls an integration started: the
	// agent's phone rings (state ringing, direction outbound) and the
	// number is dialled once the agent answers.
	Origin string `json:"origin,omitempty"`
	Card   *Card  `json:"card,omitempty"` // screen pop, when known; may arrive in a later event
	// RemoteHeld is set while the other party (a trunk) holds the call.
	RemoteHeld bool `json:"remoteHeld,omitempty"`
	// Queue names the queue the call came through.
	Queue string `json:"queue,omitempty"`
	// Recording is the call's recording: absent when not recorded,
	// "available" (on demand, not started), "recording" or "paused".
	Recording string `json:"recording,omitempty"`
	// Monitor is set in a supervisor's view of a call they listen in
	// on: listen | whisper | barge.
	Monitor string `json:"monitor,omitempty"`
	// Consult is the consultation in progress (attended transfer or
	// conference), for the consulting agent and the consulted one.
	Consult *Consult `json:"consult,omitempty"`
}

// Consult is an attended transfer or conference in the making.
type Consult struct {
	By         string `json:"by"`     // the consulting agent's extension
	Target     string `json:"target"` // the extension or number consulted
	State      string `json:"state"`  // ringing | dialing | early | active
	Talking    bool   `json:"talking"`
	Conference bool   `json:"conference"`
	Internal   bool   `json:"internal"`
}

// Card is the screen-pop data about the other party.
type Card struct {
	Name    string            `json:"name,omitempty"`
	Company string            `json:"company,omitempty"`
	Tier    string            `json:"tier,omitempty"`
	Notes   string            `json:"notes,omitempty"`
	URL     string            `json:"url,omitempty"`
	Fields  map[string]string `json:"fields,omitempty"`
}

// Stats are the browser's figures for its audio, from
// RTCPPeerConnection.getStats(): the inbound-rtp audio stream's
// packetsReceived, packetsLost and jitter (seconds), and the round trip
// (remote-inbound-rtp roundTripTime, else the selected candidate pair's
// currentRoundTripTime, in seconds). Counters are cumulative.
type Stats struct {
	PacketsReceived *float64 `json:"packetsReceived"`
	PacketsLost     *float64 `json:"packetsLost"`
	Jitter          *float64 `json:"jitter"`
	RoundTripTime   *float64 `json:"roundTripTime,omitempty"`
}

// Quality is a call's quality as told to one agent: sent when a leg's
// level changes. Side says where the trouble is when Level is "poor":
// "local" (the agent's own network) or "remote" (the other party's
// line).
type Quality struct {
	CallID string       `json:"callId"`
	Level  string       `json:"level"` // good | fair | poor: the worst leg
	Side   string       `json:"side,omitempty"`
	Legs   []QualityLeg `json:"legs"`
}

// QualityLeg is one leg's figures over the last interval.
type QualityLeg struct {
	Kind        string  `json:"kind"` // sip | agent
	Extension   string  `json:"extension,omitempty"`
	Self        bool    `json:"self,omitempty"` // the receiving agent's own leg
	Level       string  `json:"level"`
	MOS         float64 `json:"mos"`
	LossPercent float64 `json:"lossPercent"`
	JitterMs    float64 `json:"jitterMs"`
	RTTMs       float64 `json:"rttMs"`
}

// ErrNoType is returned by Decode for a JSON object without a "type".
var ErrNoType = errors.New(`missing "type"`)

// Decode parses one message as the server reads it from a client. On
// error the returned message still carries whatever "id" could be read,
// so the error reply can name the request; the error is the JSON
// decoder's own (a *json.SyntaxError, *json.UnmarshalTypeError, …), whose
// text the server turns into a hint for the client, or ErrNoType.
func Decode(data []byte) (*Message, error) {
	var m Message
	if err := json.Unmarshal(data, &m); err != nil {
		return &m, err
	}
	if m.Type == "" {
		return &m, ErrNoType
	}
	return &m, nil
}
