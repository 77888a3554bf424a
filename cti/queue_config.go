package cti

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/ringbridge/ringbridge/cti/queue"
)

// QueueConfig is a queue as administrators configure it. Calls reach it
// from a number routed to it, from a CRM routing answer, or as another
// queue's overflow.
type QueueConfig struct {
	ID       string         `json:"id"`
	TenantID string         `json:"tenantId"`
	Name     string         `json:"name"`
	Strategy queue.Strategy `json:"strategy"`
	// Members are the extensions the queue offers calls to, in order
	// (top-down and round-robin go by it).
	Members []string `json:"members"`
	// Skills a call of this queue needs (skills strategy): skill → level.
	Skills map[string]int `json:"skills,omitempty"`
	// WidenEverySeconds and WidenStep lower the needed levels while the
	// caller waits (skills strategy).
	WidenEverySeconds int `json:"widenEverySeconds,omitempty"`
	WidenStep         int `json:"widenStep,omitempty"`
	// RingSeconds is how long one agent rings before the next is tried.
	RingSeconds int `json:"ringSeconds"`
	// MaxMissed sets an agent away (reason "missed_calls") after this
	// many offers in a row unanswered; 0: never.
	MaxMissed int `json:"maxMissed"`
	// MaxWaitSeconds sends a caller to Overflow after this long; 0: no
	// limit. A caller is also sent there at once when no member is signed
	// in (NoAgentsOverflow).
	MaxWaitSeconds   int  `json:"maxWaitSeconds"`
	NoAgentsOverflow bool `json:"noAgentsOverflow"`
	// Overflow is where a caller goes from the queue; empty: the call
	// ends (the caller hears a busy tone).
	Overflow Destination `json:"overflow"`
	// AnnounceSeconds is how often a waiting caller hears their position
	// (a beep, then the position as in-band tones); 0: never.
	AnnounceSeconds int `json:"announceSeconds"`
	// CallbackDigit lets a caller press it to hang up and be called back
	// when an agent is free, keeping their place; empty: no callback.
	CallbackDigit string `json:"callbackDigit,omitempty"`
	// ServiceLevelSeconds is the answer time service level counts against.
	ServiceLevelSeconds int `json:"serviceLevelSeconds"`
	// VoicemailSeconds caps a voicemail overflow's message (default 120).
	VoicemailSeconds int `json:"voicemailSeconds,omitempty"`
	// Music is the uploaded hold music's file name (empty: the default).
	Music     string    `json:"music,omitempty"`
	CreatedAt time.Time `json:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt"`
}

// DestinationKind says where an overflow goes.
type DestinationKind string

const (
	DestNone      DestinationKind = ""
	DestExtension DestinationKind = "extension"
	DestNumber    DestinationKind = "number"
	DestQueue     DestinationKind = "queue"
	// DestVoicemail records the caller's message (after a beep) and hands
	// it to the CRM as a recording.
	DestVoicemail DestinationKind = "voicemail"
)

// Destination is an extension, an outside number or a queue.
type Destination struct {
	Kind   DestinationKind `json:"kind,omitempty"`
	Target string          `json:"target,omitempty"`
}

// Queue defaults.
const (
	DefaultQueueRingSeconds  = 15
	DefaultQueueServiceLevel = 20
	maxQueueMembers          = 500
)

var queueNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,39}$`)

// normalize fills defaults and validates, naming the field at fault.
func (q *QueueConfig) normalize() error {
	q.Name = strings.TrimSpace(strings.ToLower(q.Name))
	if !queueNameRE.MatchString(q.Name) {
		return InvalidField("name", "name must be 1-40 of a-z, 0-9, - and _, starting with a letter or digit")
	}
	if q.Strategy == "" {
		q.Strategy = queue.LongestIdle
	}
	if !q.Strategy.Valid() {
		return InvalidField("strategy", "strategy must be one of "+strings.Trim(strings.Join(strategyNames(), ", "), " "))
	}
	if len(q.Members) > maxQueueMembers {
		return InvalidField("members", "at most 500 members")
	}
	seen := map[string]bool{}
	members := q.Members[:0]
	for _, m := range q.Members {
		m = normalizeNumber(m)
		if m == "" || len(m) > 16 {
			return InvalidField("members", "members are extensions")
		}
		if !seen[m] {
			seen[m] = true
			members = append(members, m)
		}
	}
	q.Members = members
	for skill, level := range q.Skills {
		if skill == "" || len(skill) > 40 || level < 1 || level > 100 {
			return InvalidField("skills", "skills map names (1-40 characters) to levels 1-100")
		}
	}
	if q.Strategy == queue.Skills && len(q.Skills) == 0 {
		return InvalidField("skills", "the skills strategy needs the skills a call requires")
	}
	if q.RingSeconds == 0 {
		q.RingSeconds = DefaultQueueRingSeconds
	}
	if q.ServiceLevelSeconds == 0 {
		q.ServiceLevelSeconds = DefaultQueueServiceLevel
	}
	for _, f := range []struct {
		name      string
		v, lo, hi int
	}{
		{"ringSeconds", q.RingSeconds, 3, 300}, {"maxMissed", q.MaxMissed, 0, 100},
		{"maxWaitSeconds", q.MaxWaitSeconds, 0, 24 * 3600}, {"announceSeconds", q.AnnounceSeconds, 0, 3600},
		{"serviceLevelSeconds", q.ServiceLevelSeconds, 1, 3600}, {"widenEverySeconds", q.WidenEverySeconds, 0, 3600},
		{"widenStep", q.WidenStep, 0, 100},
	} {
		if f.v < f.lo || f.v > f.hi {
			return InvalidField(f.name, fmt.Sprintf("%s must be between %d and %d", f.name, f.lo, f.hi))
		}
	}
	if q.AnnounceSeconds > 0 && q.AnnounceSeconds < 5 {
		return InvalidField("announceSeconds", "announceSeconds is 0 (off) or at least 5")
	}
	if q.CallbackDigit != "" && (len(q.CallbackDigit) != 1 || !isDTMFDigit(rune(q.CallbackDigit[0]))) {
		return InvalidField("callbackDigit", "callbackDigit is one DTMF digit")
	}
	if q.Overflow.Kind == DestVoicemail && q.VoicemailSeconds == 0 {
		q.VoicemailSeconds = 120
	}
	if q.VoicemailSeconds < 0 || q.VoicemailSeconds > 600 {
		return InvalidField("voicemailSeconds", "voicemailSeconds must be between 0 and 600")
	}
	switch q.Overflow.Kind {
	case DestNone, DestVoicemail:
		q.Overflow.Target = ""
	case DestExtension, DestQueue:
		if q.Overflow.Target == "" {
			return InvalidField("overflow", "overflow needs a target")
		}
		if q.Overflow.Kind == DestQueue && q.Overflow.Target == q.Name {
			return InvalidField("overflow", "a queue cannot overflow into itself")
		}
	case DestNumber:
		if normalizeNumber(q.Overflow.Target) == "" {
			return InvalidField("overflow", "overflow target is not a phone number")
		}
	default:
		return InvalidField("overflow", "overflow kind is extension, number, queue or voicemail")
	}
	return nil
}

func strategyNames() []string {
	out := make([]string, len(queue.Strategies))
	for i, s := range queue.Strategies {
		out[i] = string(s)
	}
	return out
}

// QueueStore keeps queue configurations, tenant-scoped.
type QueueStore interface {
	CreateQueue(ctx context.Context, q *QueueConfig) error
	UpdateQueue(ctx context.Context, q *QueueConfig) error
	DeleteQueue(ctx context.Context, tenantID, id string) error
	GetQueue(ctx context.Context, tenantID, id string) (*QueueConfig, error)
	// QueueByName finds a tenant's queue by name.
	QueueByName(ctx context.Context, tenantID, name string) (*QueueConfig, error)
	ListQueues(ctx context.Context, tenantID string) ([]QueueConfig, error)
}
