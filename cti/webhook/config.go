package webhook

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/ringbridge/ringbridge/cti"
)

// Methods an endpoint may use.
const (
	MethodPOST = http.MethodPost
	MethodGET  = http.MethodGet
)

// Auth types.
const (
	AuthNone   = "none"
	AuthBasic  = "basic"
	AuthAPIKey = "apiKey"
)

// Where an API key travels.
const (
	KeyInHeader = "header"
	KeyInQuery  = "query"
)

// AllEvents in Config.Events subscribes to every event type.
const AllEvents = "*"

// EventTypes are the event types an endpoint may subscribe to.
var EventTypes = []cti.EventType{
	cti.EventCallRinging,
	cti.EventCallAnswered,
	cti.EventCallEnded,
	cti.EventCallUpdated,
	cti.EventAgentStatus,
	cti.EventRecordingReady,
	cti.EventIVR,
	cti.EventIVRCallEnded,
	cti.EventAnalysisRequested, // for the analysis service (docs/recordings.md)
	cti.EventRecordingAnalyzed,
}

// Defaults applied by Config.Normalize to fields left empty.
var (
	DefaultTimeout   = 10 * time.Second
	DefaultRetries   = 5
	DefaultIntervals = []string{"10s", "1m", "5m", "30m", "2h"}
)

// Config is what a tenant administrator sets for one endpoint. Its JSON
// form is the REST API's (docs/webhooks.md); durations are strings such as
// "30s" so that validation can say which one is wrong.
type Config struct {
	// URL receives the requests: http or https, no credentials in it.
	URL string `json:"url"`
	// Description is free text for the administrator.
	Description string `json:"description"`
	// Events lists the event types sent; ["*"] sends all of them.
	Events []string `json:"events"`
	// Method is POST (JSON body) or GET (fields as query parameters).
	// Default POST.
	Method string `json:"method"`
	Auth   Auth   `json:"auth"`
	// Fields selects what of an event's data is sent, as dotted paths
	// ("call.from"); a path through an array applies to every element.
	// Empty sends everything.
	Fields []string `json:"fields"`
	Retry  Retry    `json:"retry"`
	// Timeout bounds one request, from connecting to reading the response
	// headers. Default "10s".
	Timeout   string    `json:"timeout"`
	RateLimit RateLimit `json:"rateLimit"`
	// BatchSize > 1 sends up to that many events per request as a JSON
	// array (POST only). Default 1: one event per request.
	BatchSize int `json:"batchSize"`
}

// Auth is how requests authenticate to the receiver, besides the
// signature every request carries.
type Auth struct {
	// Type is "none", "basic" or "apiKey". Default none.
	Type string `json:"type"`
	// Username and Password for basic auth.
	Username string `json:"username,omitempty"`
	Password string `json:"password,omitempty"`
	// In is "header" (default) or "query"; Name and Value are the API
	// key's header or query parameter.
	In    string `json:"in,omitempty"`
	Name  string `json:"name,omitempty"`
	Value string `json:"value,omitempty"`
}

// Retry is the schedule for failed deliveries.
type Retry struct {
	// Retries is how many times a failed delivery is tried again before it
	// is parked; 0 parks it after the first failure. Default 5 (when
	// Intervals is empty too; otherwise len(Intervals)).
	Retries *int `json:"retries,omitempty"`
	// Intervals are the waits before each retry; the last one repeats
	// when there are more retries than intervals. Default
	// ["10s","1m","5m","30m","2h"].
	Intervals []string `json:"intervals"`
}

// RateLimit caps requests (not events: a batch is one request) in any
// sliding window of a minute and of a day. Zero means no limit.
type RateLimit struct {
	PerMinute int `json:"perMinute"`
	PerDay    int `json:"perDay"`
}

// Limits bound what Validate accepts. DefaultLimits are the API's; tests
// lower the minimum durations to run fast.
type Limits struct {
	MinInterval time.Duration
	MaxInterval time.Duration
	MinTimeout  time.Duration
	MaxTimeout  time.Duration
}

// DefaultLimits are the bounds applied to administrator input.
var DefaultLimits = Limits{
	MinInterval: time.Second,
	MaxInterval: 24 * time.Hour,
	MinTimeout:  time.Second,
	MaxTimeout:  60 * time.Second,
}

// Other bounds on a configuration.
const (
	MaxURLLength          = 2048
	MaxDescription        = 200
	MaxFields             = 100
	MaxFieldLength        = 200
	MaxRetries            = 20
	MaxBatchSize          = 500
	MaxPerMinute          = 100_000
	MaxPerDay             = 1_000_000
	MaxCredential         = 1024
	MaxEndpointsPerTenant = 50
)

var (
	fieldPathRe  = regexp.MustCompile(`^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$`)
	headerNameRe = regexp.MustCompile("^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
)

// reservedHeaders may not carry an API key: we set them ourselves.
var reservedHeaders = []string{
	"host", "content-type", "content-length", "transfer-encoding", "connection",
	"user-agent", "webhook-id", "webhook-timestamp", "webhook-signature",
}

// invalid returns the error Validate reports.
func invalid(format string, args ...any) error {
	return cti.Errorf(cti.KindInvalid, format, args...)
}

// Normalize fills defaults and canonical spellings in place. It does not
// validate; call Validate afterwards.
func (c *Config) Normalize() {
	c.URL = strings.TrimSpace(c.URL)
	c.Method = strings.ToUpper(strings.TrimSpace(c.Method))
	if c.Method == "" {
		c.Method = MethodPOST
	}
	if c.Auth.Type == "" {
		c.Auth.Type = AuthNone
	}
	if c.Auth.Type == AuthAPIKey && c.Auth.In == "" {
		c.Auth.In = KeyInHeader
	}
	if c.Timeout == "" {
		c.Timeout = DefaultTimeout.String()
	}
	if c.BatchSize == 0 {
		c.BatchSize = 1
	}
	if c.Retry.Retries == nil {
		n := DefaultRetries
		if len(c.Retry.Intervals) > 0 {
			n = len(c.Retry.Intervals)
		}
		c.Retry.Retries = &n
	}
	if len(c.Retry.Intervals) == 0 && *c.Retry.Retries > 0 {
		c.Retry.Intervals = slices.Clone(DefaultIntervals)
	}
	if c.Events != nil {
		var evs []string
		for _, e := range c.Events {
			if !slices.Contains(evs, e) {
				evs = append(evs, e)
			}
		}
		c.Events = evs
	}
	if c.Fields == nil {
		c.Fields = []string{}
	}
	if c.Retry.Intervals == nil {
		c.Retry.Intervals = []string{}
	}
}

// Validate checks a normalized configuration. The error is a cti.Error of
// kind Invalid naming the offending field the way the JSON spells it.
func (c *Config) Validate(l Limits) error {
	if err := validateURL(c.URL); err != nil {
		return err
	}
	if len(c.Description) > MaxDescription {
		return invalid("description: at most %d characters", MaxDescription)
	}
	if err := validateEvents(c.Events); err != nil {
		return err
	}
	switch c.Method {
	case MethodPOST, MethodGET:
	default:
		return invalid("method: must be POST or GET, not %q", c.Method)
	}
	if err := c.Auth.validate(); err != nil {
		return err
	}
	if len(c.Fields) > MaxFields {
		return invalid("fields: at most %d paths", MaxFields)
	}
	for i, f := range c.Fields {
		if len(f) > MaxFieldLength || !fieldPathRe.MatchString(f) {
			return invalid("fields[%d]: %q is not a dotted path such as \"call.from\" (letters, digits, _ and -, at most %d characters)", i, f, MaxFieldLength)
		}
	}
	if err := c.Retry.validate(l); err != nil {
		return err
	}
	t, err := time.ParseDuration(c.Timeout)
	if err != nil {
		return invalid("timeout: %q is not a duration such as \"10s\"", c.Timeout)
	}
	if t < l.MinTimeout || t > l.MaxTimeout {
		return invalid("timeout: must be between %s and %s, got %s", l.MinTimeout, l.MaxTimeout, c.Timeout)
	}
	if c.RateLimit.PerMinute < 0 || c.RateLimit.PerMinute > MaxPerMinute {
		return invalid("rateLimit.perMinute: must be between 0 (no limit) and %d, got %d", MaxPerMinute, c.RateLimit.PerMinute)
	}
	if c.RateLimit.PerDay < 0 || c.RateLimit.PerDay > MaxPerDay {
		return invalid("rateLimit.perDay: must be between 0 (no limit) and %d, got %d", MaxPerDay, c.RateLimit.PerDay)
	}
	if c.BatchSize < 1 || c.BatchSize > MaxBatchSize {
		return invalid("batchSize: must be between 1 and %d, got %d", MaxBatchSize, c.BatchSize)
	}
	if c.BatchSize > 1 && c.Method != MethodPOST {
		return invalid("batchSize: batching needs method POST (a GET request carries one event)")
	}
	return nil
}

func validateURL(raw string) error {
	if raw == "" {
		return invalid("url: is required")
	}
	if len(raw) > MaxURLLength {
		return invalid("url: at most %d characters", MaxURLLength)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return invalid("url: %q is not a valid URL", raw)
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return invalid("url: scheme must be http or https, not %q", u.Scheme)
	case u.Host == "" || u.Hostname() == "":
		return invalid("url: has no host")
	case u.User != nil:
		return invalid("url: must not contain credentials; use auth instead")
	case u.Fragment != "" || strings.Contains(raw, "#"):
		return invalid("url: must not contain a #fragment")
	}
	return nil
}

func validateEvents(evs []string) error {
	if len(evs) == 0 {
		return invalid("events: at least one event type is required (or %q for all)", AllEvents)
	}
	for i, e := range evs {
		if e == AllEvents {
			if len(evs) > 1 {
				return invalid("events: %q must be the only entry", AllEvents)
			}
			continue
		}
		if !slices.Contains(EventTypes, cti.EventType(e)) {
			return invalid("events[%d]: unknown event type %q; known: %s", i, e, knownEvents())
		}
	}
	return nil
}

func knownEvents() string {
	s := make([]string, len(EventTypes))
	for i, t := range EventTypes {
		s[i] = string(t)
	}
	return strings.Join(s, ", ")
}

func (a *Auth) validate() error {
	switch a.Type {
	case AuthNone:
		if a.Username != "" || a.Password != "" || a.Name != "" || a.Value != "" {
			return invalid("auth: credentials given but auth.type is %q; set it to %q or %q", AuthNone, AuthBasic, AuthAPIKey)
		}
	case AuthBasic:
		switch {
		case a.Username == "":
			return invalid("auth.username: is required for basic auth")
		case strings.Contains(a.Username, ":"):
			return invalid("auth.username: must not contain ':' (RFC 7617)")
		case len(a.Username) > MaxCredential || len(a.Password) > MaxCredential:
			return invalid("auth: username and password are at most %d bytes", MaxCredential)
		case hasCtl(a.Username) || hasCtl(a.Password):
			return invalid("auth: username and password must not contain control characters")
		case a.Name != "" || a.Value != "" || a.In != "":
			return invalid("auth: name, value and in belong to type %q, not %q", AuthAPIKey, AuthBasic)
		}
	case AuthAPIKey:
		switch {
		case a.In != KeyInHeader && a.In != KeyInQuery:
			return invalid("auth.in: must be %q or %q, not %q", KeyInHeader, KeyInQuery, a.In)
		case a.Name == "":
			return invalid("auth.name: is required for an API key (the header or query parameter name)")
		case a.Value == "":
			return invalid("auth.value: is required for an API key")
		case len(a.Name) > 256 || len(a.Value) > MaxCredential:
			return invalid("auth: name is at most 256 and value at most %d bytes", MaxCredential)
		case hasCtl(a.Value) || hasCtl(a.Name):
			return invalid("auth: name and value must not contain control characters")
		case a.Username != "" || a.Password != "":
			return invalid("auth: username and password belong to type %q, not %q", AuthBasic, AuthAPIKey)
		}
		if a.In == KeyInHeader {
			if !headerNameRe.MatchString(a.Name) {
				return invalid("auth.name: %q is not a valid HTTP header name", a.Name)
			}
			if slices.Contains(reservedHeaders, strings.ToLower(a.Name)) {
				return invalid("auth.name: header %q is set by ringbridge and cannot carry an API key", a.Name)
			}
		}
	default:
		return invalid("auth.type: must be %q, %q or %q, not %q", AuthNone, AuthBasic, AuthAPIKey, a.Type)
	}
	return nil
}

func hasCtl(s string) bool {
	return strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f })
}

func (r *Retry) validate(l Limits) error {
	if r.Retries == nil {
		return invalid("retry.retries: missing (call Normalize first)")
	}
	n := *r.Retries
	if n < 0 || n > MaxRetries {
		return invalid("retry.retries: must be between 0 and %d, got %d", MaxRetries, n)
	}
	if len(r.Intervals) > MaxRetries {
		return invalid("retry.intervals: at most %d entries", MaxRetries)
	}
	for i, s := range r.Intervals {
		d, err := time.ParseDuration(s)
		if err != nil {
			return invalid("retry.intervals[%d]: %q is not a duration such as \"30s\" or \"5m\"", i, s)
		}
		if d < l.MinInterval || d > l.MaxInterval {
			return invalid("retry.intervals[%d]: must be between %s and %s, got %s", i, l.MinInterval, l.MaxInterval, s)
		}
	}
	return nil
}

// settings is a validated Config in the form the worker uses.
type settings struct {
	timeout   time.Duration
	retries   int
	intervals []time.Duration
}

// parse returns the durations of a validated Config.
func (c *Config) parse() (settings, error) {
	var s settings
	if c.Retry.Retries != nil {
		s.retries = *c.Retry.Retries
	}
	var err error
	if s.timeout, err = time.ParseDuration(c.Timeout); err != nil {
		return s, fmt.Errorf("webhook config: timeout: %w", err)
	}
	for _, iv := range c.Retry.Intervals {
		d, err := time.ParseDuration(iv)
		if err != nil {
			return s, fmt.Errorf("webhook config: interval: %w", err)
		}
		s.intervals = append(s.intervals, d)
	}
	return s, nil
}

// retryDelay is the wait after the attempt-th failed attempt (1-based).
func (s *settings) retryDelay(attempt int) time.Duration {
	if len(s.intervals) == 0 {
		return 0
	}
	i := min(attempt-1, len(s.intervals)-1)
	return s.intervals[max(i, 0)]
}

// wants reports whether the endpoint subscribes to t.
func (c *Config) wants(t cti.EventType) bool {
	for _, e := range c.Events {
		if e == AllEvents || e == string(t) {
			return true
		}
	}
	return false
}
