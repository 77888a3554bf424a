package cti

import (
	"context"
	"math"
	"time"
)

// CallRecord is the multi-level record of one call: the call, each SIP
// leg (transfer legs included), each agent's part, the durations, and the
// disposition set afterwards. It is the payload of call.* events and of
// GET /api/v1/calls/{id}, so its JSON form is a published contract
// (docs/crm.md): fields are only ever added.
type CallRecord struct {
	ID        string    `json:"id"`
	TenantID  string    `json:"tenantId"`
	Direction Direction `json:"direction"`
	// Origin says how the call started when it was not dialled by hand:
	// "click_to_call".
	Origin string `json:"origin,omitempty"`
	From   string `json:"from"`
	To     string `json:"to"`
	// CustomerNumber is the outside party in E.164 (the caller of an
	// inbound call, the called number of an outbound one), for matching
	// the call to a contact; absent on internal calls.
	CustomerNumber string `json:"customerNumber,omitempty"`
	// Route is how an inbound call was routed: "static:1001",
	// "crm:1002", "crm-number:+15551234567", "fallback:1001".
	Route      string    `json:"route,omitempty"`
	StartedAt  time.Time `json:"startedAt"`
	AnsweredAt time.Time `json:"answeredAt,omitzero"`
	EndedAt    time.Time `json:"endedAt,omitzero"`
	EndReason  EndReason `json:"endReason,omitempty"`

	Disposition string   `json:"disposition"`
	Notes       string   `json:"notes"`
	Tags        []string `json:"tags"`

	Legs      []LegRecord    `json:"legs"`
	Agents    []AgentSegment `json:"agents"`
	Durations Durations      `json:"durations"`
	// Queue is the call's story in a queue; null for calls that were not
	// queued.
	Queue *QueueRecord `json:"queue"`
	// Recording is the call's recording when the tenant records calls:
	// a download code ({"code", "url", "durationSeconds"}) or the audio
	// itself ({"base64", "durationSeconds"}) per tenant setting; null when
	// the call was not recorded (never answered, recording off or failed).
	Recording *RecordingRef `json:"recording"`
	// Quality summarises each leg's measured quality (loss, jitter, round
	// trip, estimated MOS) over the call; empty when no leg carried
	// enough audio to measure.
	Quality []LegQualitySummary `json:"quality"`
	// RecordingPauses lists when the recording was paused and resumed,
	// and by whom; absent when it never was.
	RecordingPauses []RecordingPause `json:"recordingPauses,omitempty"`
	// Analysis is what the post-call analysis service found in the
	// recording (docs/recordings.md §6); absent until it reports.
	Analysis *CallAnalysis `json:"analysis,omitempty"`
	// IVR is the call's walk through an IVR flow; absent when it never
	// entered one.
	IVR *IVRRecord `json:"ivr,omitempty"`
}

// LegRecord is one SIP dialog of a call.
type LegRecord struct {
	SIPCallID  string    `json:"sipCallId"`
	Direction  Direction `json:"direction"` // inbound: the trunk called us; outbound: we called out
	Number     string    `json:"number"`    // the far end's number
	Trunk      string    `json:"trunk,omitempty"`
	StartedAt  time.Time `json:"startedAt"`
	AnsweredAt time.Time `json:"answeredAt,omitzero"`
	EndedAt    time.Time `json:"endedAt,omitzero"`
	EndReason  EndReason `json:"endReason,omitempty"`
	// SIPStatus is the final status an inbound leg was refused with (486
	// busy, 480 unavailable, …); absent on legs that were answered or
	// ended otherwise.
	SIPStatus int `json:"sipStatus,omitempty"`
}

// AgentSegment is one agent's part in a call: rung, answered (or not),
// left (hung up, transferred, the call ended).
type AgentSegment struct {
	Extension string `json:"extension"`
	UserID    string `json:"userId,omitempty"`
	Username  string `json:"username,omitempty"`
	// RingStartedAt is absent when the agent was never rung (a call
	// refused because the agent was away, busy or offline).
	RingStartedAt time.Time `json:"ringStartedAt,omitzero"`
	AnsweredAt    time.Time `json:"answeredAt,omitzero"`
	EndedAt       time.Time `json:"endedAt,omitzero"`
	EndReason     EndReason `json:"endReason,omitempty"`
	// WrapUpSeconds is the after-call time this segment put the agent in
	// (the configured wrap-up, for agents who answered). The time really
	// spent is in the agent.status events.
	WrapUpSeconds float64 `json:"wrapUpSeconds"`
}

// Durations are in seconds, to the millisecond.
type Durations struct {
	Ring   float64 `json:"ringSeconds"`   // start to the first answer (to the end when never answered)
	Talk   float64 `json:"talkSeconds"`   // first answer to end, minus hold
	Hold   float64 `json:"holdSeconds"`   // total time on hold
	WrapUp float64 `json:"wrapUpSeconds"` // sum of the agents' wrap-up
	Total  float64 `json:"totalSeconds"`  // start to end
}

// QueueRecord is a call's story in a queue: when it joined and left,
// every offer to an agent and its answer, and how the wait ended.
type QueueRecord struct {
	Name     string    `json:"name"`
	Priority int       `json:"priority,omitempty"`
	JoinedAt time.Time `json:"joinedAt"`
	LeftAt   time.Time `json:"leftAt,omitzero"`
	// WaitSeconds is joining to answer (or to leaving).
	WaitSeconds float64 `json:"waitSeconds"`
	// Outcome: answered, abandoned, overflow, callback_answered,
	// callback_failed, shutdown.
	Outcome string       `json:"outcome,omitempty"`
	Offers  []QueueOffer `json:"offers"`
	// Callback is set when the caller asked to be called back.
	Callback bool `json:"callback,omitempty"`
	// Overflow names where the call went on leaving by overflow.
	Overflow *Destination `json:"overflow,omitempty"`
}

// QueueOffer is one agent offered a queued call.
type QueueOffer struct {
	Extension string    `json:"extension"`
	OfferedAt time.Time `json:"offeredAt"`
	// Outcome: answered, no_answer, rejected, agent_gone,
	// answered_elsewhere, abandoned.
	Outcome string `json:"outcome,omitempty"`
}

// RecordingRef points at a call's recording (a stereo WAV: left our
// agent, right the far end): a download code for
// GET /api/v1/recordings/{code}, or the file itself in base64.
type RecordingRef struct {
	Code            string  `json:"code,omitempty"`
	URL             string  `json:"url,omitempty"`
	Base64          string  `json:"base64,omitempty"`
	DurationSeconds float64 `json:"durationSeconds"`
	// Note says why an inline recording came as a code instead.
	Note string `json:"note,omitempty"`
}

// CallRecordStore persists finished calls.
type CallRecordStore interface {
	// SaveCallRecord inserts or replaces a record.
	SaveCallRecord(ctx context.Context, r *CallRecord) error
	GetCallRecord(ctx context.Context, tenantID, id string) (*CallRecord, error)
	// ListCallRecords returns records started in [filter.From, filter.To)
	// (zero: unbounded), newest first, and the next page's cursor.
	ListCallRecords(ctx context.Context, tenantID string, filter CallFilter, page Page) ([]CallRecord, string, error)
	// UpdateCallRecord applies an update to a stored record and returns
	// the result.
	UpdateCallRecord(ctx context.Context, tenantID, id string, u CallUpdate) (*CallRecord, error)
}

// CallFilter narrows a list of call records by start time.
type CallFilter struct {
	From, To time.Time
}

// seconds rounds a duration to milliseconds, in seconds.
func seconds(d time.Duration) float64 {
	if d < 0 {
		return 0
	}
	return math.Round(d.Seconds()*1000) / 1000
}
