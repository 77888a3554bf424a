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

// TenantSettings are the per-tenant choices administrators make at
// runtime. They live in the store (AdminStore.GetSettings); a tenant that
// never saved any gets the ones in Config (seeded from the config file),
// then the defaults. The CRM's addresses and credentials are kept here as
// plain strings for the CRM adapter (cti/crm), which reads them through
// Service.TenantSettings on every request.
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
	// RecordingPolicy is the tenant's default recording policy; rules
	// per number, queue and agent override it. "" follows Record.
	RecordingPolicy RecordingPolicy
	// RecordingRetentionDays deletes recordings older than this many
	// days (audited); 0 keeps them forever.
	RecordingRetentionDays int
	// RecordingAnalysis sends every recorded call to the analysis
	// endpoint (recording.analysis_requested). Default off.
	RecordingAnalysis bool
	// RecordingDelivery is how call.ended carries the recording. Default
	// RecordingByCode.
	RecordingDelivery RecordingDelivery
	// CRM is the tenant's CRM connection; zero: phonebook only.
	CRM CRMSettings
	// AllowedOrigins are the CRM pages (scheme://host[:port]) that may
	// embed the widget and open the agent websocket for this tenant.
	AllowedOrigins []string
	// WrapUp is the after-call time in which an agent gets no calls.
	WrapUp time.Duration
	// AwayReasons are the codes agents pick from when away; empty allows
	// any short text.
	AwayReasons []string
	// DialRule limits where the tenant's calls may go; zero: anywhere.
	DialRule DialRule
	// AnnounceMonitoring plays the agents of a call a short beep when a
	// supervisor starts listening in or changes mode. Default off.
	AnnounceMonitoring bool
	// TimeZone is the IANA time zone (e.g. "Europe/Budapest") in which
	// IVR conditions read days, times and holidays. Default UTC.
	TimeZone string
	// CallWaiting lets a second direct call ring for an agent who is
	// talking; the agent holds one and takes the other. Default off.
	CallWaiting bool
}

// CRMSettings is a tenant's CRM connection (see cti/crm.TenantConfig for
// what each field does). The secrets are needed in the clear to call the
// CRM, so the API never returns them, only whether they are set.
type CRMSettings struct {
	LookupURL    string
	LookupMethod string
	RoutingURL   string
	QueryURL     string // IVR CRM nodes; empty: RoutingURL
	APIKey       string
	AuthHeader   string
	Username     string
	Password     string
}

// IsZero reports whether no CRM is configured.
func (c CRMSettings) IsZero() bool { return c == CRMSettings{} }

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
	t, ok := s.settings.get(s.store, id)
	if !ok {
		t = s.configSettings(id)
	}
	return withDefaults(t)
}

// configSettings are a tenant's settings as Config gives them, for a
// tenant whose administrators never saved any.
func (s *Service) configSettings(id string) TenantSettings {
	t := s.cfg.Tenants[id]
	if t.WrapUp == 0 {
		t.WrapUp = s.cfg.WrapUp
	}
	if t.AwayReasons == nil {
		t.AwayReasons = s.cfg.AwayReasons
	}
	if r, ok := s.cfg.DialRules[id]; ok {
		t.DialRule = r
	}
	return t
}

// TenantSettings returns the settings a tenant's calls run with now.
func (s *Service) TenantSettings(tenantID string) TenantSettings { return s.tenant(tenantID) }

func withDefaults(t TenantSettings) TenantSettings {
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
