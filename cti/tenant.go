package cti

import "time"

// Defaults for TenantSettings fields left zero.
const (
	DefaultLookupTimeout = 800 * time.Millisecond
	DefaultRouteTimeout  = time.Second
)

// ScreenPopMode says when the caller is looked up and the card shown.
type ScreenPopMode string

const (
	ScreenPopRinging  ScreenPopMode = "ringing"  // as the agent's phone rings (default)
	ScreenPopAnswered ScreenPopMode = "answered" // only once the agent answers
	ScreenPopBoth     ScreenPopMode = "both"     // on ringing, and again on answer
)

// ParseScreenPopMode validates a configured mode; "" means ringing.
func ParseScreenPopMode(s string) (ScreenPopMode, error) {
	switch ScreenPopMode(s) {
	case "":
		return ScreenPopRinging, nil
	case ScreenPopRinging, ScreenPopAnswered, ScreenPopBoth:
		return ScreenPopMode(s), nil
	}
	return "", Errorf(KindInvalid, "screenPop %q: want ringing, answered or both", s)
}

func (m ScreenPopMode) onRinging() bool {
	return m == "" || m == ScreenPopRinging || m == ScreenPopBoth
}
func (m ScreenPopMode) onAnswer() bool { return m == ScreenPopAnswered || m == ScreenPopBoth }

// TenantSettings are the per-tenant choices of the call-center core. The
// CRM's addresses and credentials belong to the CRM adapter (cti/crm);
// only what the core decides with lives here.
type TenantSettings struct {
	// DefaultRegion reads numbers written without a country code
	// (ISO 3166-1 alpha-2, e.g. "US", "HU"). Default DefaultRegion.
	DefaultRegion string
	// ScreenPop is when the caller is looked up. Default ringing.
	ScreenPop ScreenPopMode
	// LookupTimeout bounds one CRM lookup; the phonebook card stays
	// when it expires. Default 800 ms.
	LookupTimeout time.Duration
	// RouteTimeout bounds one CRM routing query before the number's
	// fallback is taken. Default 1 s.
	RouteTimeout time.Duration
	// Record makes every answered call of the tenant recorded. Default off.
	Record bool
	// RecordingDelivery is how call.ended carries the recording. Default
	// RecordingByCode.
	RecordingDelivery RecordingDelivery
}

// RecordingDelivery says how a call record carries its recording.
type RecordingDelivery string

const (
	// RecordingByCode puts an opaque download code in the record.
	RecordingByCode RecordingDelivery = "code"
	// RecordingInline puts the WAV itself, base64, in the record, for
	// files up to MaxInlineRecording; larger ones come as a code.
	RecordingInline RecordingDelivery = "inline"
)

// MaxInlineRecording bounds a recording sent inline (5 MiB, about 80 s of
// stereo 8 kHz audio).
const MaxInlineRecording = 5 << 20

// ParseRecordingDelivery validates a configured delivery; "" means code.
func ParseRecordingDelivery(s string) (RecordingDelivery, error) {
	switch RecordingDelivery(s) {
	case "":
		return RecordingByCode, nil
	case RecordingByCode, RecordingInline:
		return RecordingDelivery(s), nil
	}
	return "", Errorf(KindInvalid, "recordingDelivery %q: want code or inline", s)
}

// tenant returns a tenant's settings with defaults filled in.
func (s *Service) tenant(id string) TenantSettings {
	t := s.cfg.Tenants[id]
	if t.DefaultRegion == "" {
		t.DefaultRegion = DefaultRegion
	}
	if t.ScreenPop == "" {
		t.ScreenPop = ScreenPopRinging
	}
	if t.LookupTimeout <= 0 {
		t.LookupTimeout = DefaultLookupTimeout
	}
	if t.RouteTimeout <= 0 {
		t.RouteTimeout = DefaultRouteTimeout
	}
	if t.RecordingDelivery == "" {
		t.RecordingDelivery = RecordingByCode
	}
	return t
}

// e164 normalises a number for a tenant, or returns "" when it is not a
// phone number (an extension, an anonymous caller).
func (s *Service) e164(tenantID, raw string) string {
	n, err := NormalizeE164(raw, s.tenant(tenantID).DefaultRegion)
	if err != nil {
		return ""
	}
	return n
}
