package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/ringbridge/ringbridge/cti"
	"github.com/ringbridge/ringbridge/cti/crm"
	"github.com/ringbridge/ringbridge/cti/recstore"
	"github.com/ringbridge/ringbridge/cti/webhook"
	"github.com/ringbridge/ringbridge/media/peer"
	"github.com/ringbridge/ringbridge/media/trunk"
	"github.com/ringbridge/ringbridge/server/wsproto"
)

// Config is everything ringbridge serve reads. Each field notes its
// default and environment variable; a JSON file (-config, or
// RINGBRIDGE_CONFIG) sets any of them, and the environment wins over the
// file.
type Config struct {
	// DataDir holds the SQLite database and generated secrets.
	// Default "./data"; RINGBRIDGE_DATA_DIR.
	DataDir string `json:"dataDir"`
	// Store is the database: "sqlite" (default, a file in DataDir) or
	// "postgres" (PostgresURL; for several nodes, docs/scale-out.md).
	// RINGBRIDGE_STORE.
	Store string `json:"store"`
	// PostgresURL is the database with store "postgres", as libpq takes
	// it (postgres://user:password@host:5432/ringbridge).
	// RINGBRIDGE_POSTGRES_URL.
	PostgresURL string `json:"postgresUrl"`
	// Node names this process among the nodes sharing a PostgreSQL
	// database: unique per running node, and kept across its restarts
	// (a restarted node accounts for the calls it left). Default the host
	// name; RINGBRIDGE_NODE. Unused with SQLite.
	Node string `json:"node"`
	// Bus carries supervisors' changes between nodes: "local" (default,
	// one node) or "nats" (NATSURL; with store "postgres").
	// RINGBRIDGE_BUS.
	Bus string `json:"bus"`
	// NATSURL is the NATS server (or comma-separated servers) with bus
	// "nats", e.g. nats://nats.internal:4222. RINGBRIDGE_NATS_URL.
	NATSURL string `json:"natsUrl"`
	// NodeSIPAddr is host:port where the SIP front door reaches this node;
	// other nodes redirect calls for this node's agents there
	// (docs/scale-out.md). Default: the address put in our Contact.
	// RINGBRIDGE_NODE_SIP_ADDR.
	NodeSIPAddr string `json:"nodeSipAddr"`
	// CertDir holds the TLS certificate, generated self-signed on first
	// start when missing. Default "./certs"; RINGBRIDGE_CERT_DIR.
	CertDir string `json:"certDir"`
	// HTTPAddr serves HTTPS, the REST API and websockets on one port.
	// Default ":8443"; RINGBRIDGE_HTTP_ADDR.
	HTTPAddr string `json:"httpAddr"`
	// TLS turns HTTPS on (default true); RINGBRIDGE_TLS=false for plain
	// HTTP behind a TLS-terminating proxy.
	TLS *bool `json:"tls"`
	// TLSCertFile and TLSKeyFile use an existing certificate instead of
	// the generated one. RINGBRIDGE_TLS_CERT, RINGBRIDGE_TLS_KEY.
	TLSCertFile string `json:"tlsCertFile"`
	TLSKeyFile  string `json:"tlsKeyFile"`
	// PublicIP is announced to browsers (ICE) and trunks (SDP, Contact)
	// when behind 1:1 NAT. Default none; RINGBRIDGE_PUBLIC_IP.
	PublicIP string `json:"publicIp"`
	// SIPAddr listens for SIP on UDP and TCP. Default ":5060";
	// RINGBRIDGE_SIP_ADDR.
	SIPAddr string `json:"sipAddr"`
	// MediaIP binds RTP sockets (default all addresses); RINGBRIDGE_MEDIA_IP.
	MediaIP string `json:"mediaIp"`
	// RTPPorts is the RTP port range toward trunks. Default
	// "10000-20000"; RINGBRIDGE_RTP_PORTS.
	RTPPorts string `json:"rtpPorts"`
	// MediaTimeout hangs up a call whose trunk side sent no RTP for this
	// long. Default 60s; RINGBRIDGE_MEDIA_TIMEOUT.
	MediaTimeout Duration `json:"mediaTimeout"`
	// SIPTCPIdleTimeout closes accepted SIP TCP connections that carried
	// nothing for this long and serve no call. Default 30s; negative keeps
	// them; RINGBRIDGE_SIP_TCP_IDLE_TIMEOUT. See docs/sip.md.
	SIPTCPIdleTimeout Duration `json:"sipTcpIdleTimeout"`
	// SIPRateLimits bound INVITE, OPTIONS and REGISTER per source IP
	// (defaults 20/s, 5/s, 2/s). See docs/sip.md.
	SIPRateLimits trunk.RateLimits `json:"sipRateLimits"`
	// WebRTCUDPPort carries every browser's ICE and media. Default 8443
	// (UDP); RINGBRIDGE_WEBRTC_UDP_PORT.
	WebRTCUDPPort int `json:"webrtcUdpPort"`
	// WebRTCTCPPort is the ICE-TCP fallback (0 disables). Default 8444;
	// RINGBRIDGE_WEBRTC_TCP_PORT.
	WebRTCTCPPort *int `json:"webrtcTcpPort"`
	// WebRTCStack is the agents' transport: "lite" (default: the server's
	// own ICE-lite, DTLS-SRTP endpoint, no goroutine per session) or
	// "pion" (a pion PeerConnection per session); RINGBRIDGE_WEBRTC_STACK.
	// See docs/benchmarks.md.
	WebRTCStack string `json:"webrtcStack"`
	// ICEServers are handed to browsers (STUN/TURN). Default none;
	// RINGBRIDGE_ICE_SERVERS as comma-separated URLs.
	ICEServers []wsproto.ICEServer `json:"iceServers"`
	// TURNURLs and TURNSecret hand browsers a TURN server (coturn with
	// use-auth-secret and this static-auth-secret) with credentials made
	// for each session, valid for TURNCredentialTTL (default 12h); see
	// docs/deploy.md. RINGBRIDGE_TURN_URLS, RINGBRIDGE_TURN_SECRET.
	TURNURLs          []string `json:"turnUrls"`
	TURNSecret        string   `json:"turnSecret"`
	TURNCredentialTTL Duration `json:"turnCredentialTtl"`
	// AllowedOrigins may open the agent websocket besides our own origin
	// (CRM pages embedding the widget). RINGBRIDGE_ALLOWED_ORIGINS.
	AllowedOrigins []string `json:"allowedOrigins"`
	// ExternalTLS says a proxy in front terminates TLS while ringbridge
	// serves plain HTTP (tls false): browsers then come from https
	// origins. Default false; RINGBRIDGE_EXTERNAL_TLS.
	ExternalTLS bool `json:"externalTls"`
	// MetricsAddr serves Prometheus /metrics on its own plain-HTTP
	// listener, e.g. "127.0.0.1:9464" (keep it private). Default none;
	// RINGBRIDGE_METRICS_ADDR.
	MetricsAddr string `json:"metricsAddr"`
	// MetricsToken serves /metrics on the main port to requests with
	// "Authorization: Bearer <token>". Default none: /metrics is not on
	// the main port. RINGBRIDGE_METRICS_TOKEN.
	MetricsToken string `json:"metricsToken"`
	// WebhookAllowPrivate lists non-public address ranges (CIDRs or
	// single addresses) webhooks may reach, for CRMs on the local
	// network. Default none: webhooks reach public addresses only.
	// RINGBRIDGE_WEBHOOK_ALLOW_PRIVATE as a comma-separated list.
	WebhookAllowPrivate []string `json:"webhookAllowPrivate"`
	// RecordingStorage is where finished recordings go: "local" (default:
	// <dataDir>/recordings) or "s3" (S3 below). RINGBRIDGE_RECORDING_STORAGE.
	RecordingStorage string `json:"recordingStorage"`
	// S3 is the S3-compatible object store for RecordingStorage "s3";
	// the bucket is created when missing (docs/recordings.md).
	// RINGBRIDGE_S3_ENDPOINT, _BUCKET, _REGION, _ACCESS_KEY, _SECRET_KEY,
	// _SECURE, _PREFIX.
	S3 recstore.S3Config `json:"s3"`
	// recordingJobs tunes the upload and retention job (tests shorten it).
	recordingJobs cti.RecordingJobOptions
	// JWTSecret signs access tokens; generated into DataDir when empty.
	// RINGBRIDGE_JWT_SECRET.
	JWTSecret string `json:"jwtSecret"`
	// Trunks we exchange calls with, seeded into the database on the
	// first start (afterwards /api/v1/trunks manages them; docs/admin.md).
	// Default: one trunk named "local" accepting calls from 127.0.0.0/8
	// (ringbridge dial) and sending outbound calls to 127.0.0.1:5080
	// (ringbridge answer).
	Trunks []trunk.TrunkConfig `json:"trunks"`
	// Numbers route called numbers to extensions of a tenant; they seed a
	// tenant that has no numbers in the database yet. Default: 1001, 1002,
	// +15550001001 and +15550001002 to the demo agents.
	Numbers []NumberConfig `json:"numbers"`
	// DialRules limit outbound destinations per tenant (agents dialling,
	// click-to-call, transfers, CRM routing to numbers); seed only, like
	// Tenants.
	DialRules map[string]DialRuleConfig `json:"dialRules"`
	// Tenants holds per-tenant CRM integration settings: number region,
	// when screen pop happens, and the tenant's CRM (lookup and routing
	// URLs, credentials, timeouts). Default none: phonebook-only screen
	// pop on ringing, numbers read as US. Seed only: copied into the
	// database for a tenant without stored settings, which then win
	// (docs/admin.md). See docs/crm.md.
	Tenants map[string]TenantConfig `json:"tenants"`
	// RingTimeout gives up an unanswered call. Default 30s.
	RingTimeout Duration `json:"ringTimeout"`
	// WrapUp is the after-call time in which an agent gets no calls.
	// Default 0 (none); RINGBRIDGE_WRAP_UP.
	WrapUp Duration `json:"wrapUp"`
	// QualityInterval is how often each call's legs are measured (loss,
	// jitter, round trip, MOS; docs/quality.md). Default 2s;
	// RINGBRIDGE_QUALITY_INTERVAL.
	QualityInterval Duration `json:"qualityInterval"`
	// IVRCallsPerMinute and IVRCallsConcurrent bound each tenant's
	// outbound IVR calls (POST /api/v1/ivr-calls, docs/ivr.md): started
	// per minute (default 60) and in progress at once (default 20).
	IVRCallsPerMinute  int `json:"ivrCallsPerMinute"`
	IVRCallsConcurrent int `json:"ivrCallsConcurrent"`
	// AwayReasons are the codes agents choose from when away. Default
	// lunch, break, meeting, training, other.
	AwayReasons []string `json:"awayReasons"`
	// ShutdownTimeout lets live calls finish on SIGTERM. Default 30s;
	// RINGBRIDGE_SHUTDOWN_TIMEOUT.
	ShutdownTimeout Duration `json:"shutdownTimeout"`
	// LogLevel is debug, info, warn or error. Default info;
	// RINGBRIDGE_LOG_LEVEL.
	LogLevel string `json:"logLevel"`
	// NoDemo skips the demo tenant on a fresh database (create the first
	// tenant with ringbridge admin init instead). RINGBRIDGE_NO_DEMO.
	NoDemo bool `json:"noDemo"`
}

// NumberConfig routes one called number: to Extension, with Route
// "crm" to wherever the tenant's CRM says (its routingUrl), taking
// Fallback (or Extension) when the CRM is slow, fails or names nothing
// usable, or with Route "queue" into Queue (a queue created through the
// API, docs/queues.md).
type NumberConfig struct {
	Number    string `json:"number"`
	Tenant    string `json:"tenant"`
	Extension string `json:"extension"`
	Route     string `json:"route"`    // "" (static), "crm" or "queue"
	Queue     string `json:"queue"`    // with route "queue"
	Fallback  string `json:"fallback"` // with route "crm": the extension to ring when the CRM gives no answer
}

// DialRuleConfig limits where a tenant's calls may go: the number must
// start with one of AllowPrefixes or belong to one of AllowCountries (ISO
// regions such as "US", or "*" for any) and have at most MaxDigits digits
// (default 15, E.164's limit). With both lists empty, and for a tenant
// without a rule, only numbers of the tenant's own region may be called.
// Premium-rate numbers need AllowPremium. See docs/security.md.
type DialRuleConfig struct {
	AllowPrefixes  []string `json:"allowPrefixes"`
	AllowCountries []string `json:"allowCountries"`
	MaxDigits      int      `json:"maxDigits"`
	AllowPremium   bool     `json:"allowPremium"`
}

// TenantConfig is one tenant's CRM integration settings.
type TenantConfig struct {
	// DefaultRegion reads numbers written without a country code (ISO
	// 3166-1 alpha-2). Default "US".
	DefaultRegion string `json:"defaultRegion"`
	// ScreenPop is when callers are looked up: "ringing" (default),
	// "answered" or "both".
	ScreenPop string `json:"screenPop"`
	// CRM is the tenant's CRM; none: the phonebook alone pops cards.
	CRM *CRMConfig `json:"crm"`
	// Record records every answered call of the tenant as a stereo WAV
	// (8 kHz 16-bit; left the agent, right the far end) under
	// <dataDir>/recordings/<tenant>/. Default false.
	Record bool `json:"record"`
	// RecordingDelivery is how call.ended carries the recording: "code"
	// (default; a download code for GET /api/v1/recordings/{code}) or
	// "inline" (the WAV in base64, up to 5 MiB; larger ones fall back to
	// a code with a note).
	RecordingDelivery string `json:"recordingDelivery"`
}

// CRMConfig is a tenant's CRM connection: lookupUrl, lookupMethod,
// routingUrl, apiKey + authHeader or username + password (see
// crm.TenantConfig), and the timeouts.
type CRMConfig struct {
	crm.TenantConfig
	// TimeoutMs bounds a lookup; the phonebook card stays when it
	// expires. Default 800.
	TimeoutMs int `json:"timeoutMs"`
	// RouteTimeoutMs bounds a routing query before the fallback is
	// taken. Default 1000.
	RouteTimeoutMs int `json:"routeTimeoutMs"`
}

// Duration reads "30s"-style strings from JSON.
type Duration time.Duration

// UnmarshalJSON implements json.Unmarshaler.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("duration must be a string like \"30s\": %w", err)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// defaultTenant is the demo tenant created on first start.
const defaultTenant = "demo"

// loadConfig reads the file (if any), then the environment, then fills
// defaults and validates.
func loadConfig(path string) (*Config, error) {
	cfg := &Config{}
	if path == "" {
		path = os.Getenv("RINGBRIDGE_CONFIG")
	}
	if path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("config: %w", err)
		}
		dec := json.NewDecoder(strings.NewReader(string(b)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(cfg); err != nil {
			return nil, fmt.Errorf("config %s: %w", path, err)
		}
	}
	if err := cfg.applyEnv(); err != nil {
		return nil, err
	}
	cfg.setDefaults()
	return cfg, cfg.validate()
}

func (c *Config) applyEnv() error {
	str := func(name string, dst *string) {
		if v, ok := os.LookupEnv(name); ok {
			*dst = v
		}
	}
	str("RINGBRIDGE_DATA_DIR", &c.DataDir)
	str("RINGBRIDGE_STORE", &c.Store)
	str("RINGBRIDGE_POSTGRES_URL", &c.PostgresURL)
	str("RINGBRIDGE_NODE", &c.Node)
	str("RINGBRIDGE_BUS", &c.Bus)
	str("RINGBRIDGE_NATS_URL", &c.NATSURL)
	str("RINGBRIDGE_NODE_SIP_ADDR", &c.NodeSIPAddr)
	str("RINGBRIDGE_CERT_DIR", &c.CertDir)
	str("RINGBRIDGE_HTTP_ADDR", &c.HTTPAddr)
	str("RINGBRIDGE_TLS_CERT", &c.TLSCertFile)
	str("RINGBRIDGE_TLS_KEY", &c.TLSKeyFile)
	str("RINGBRIDGE_PUBLIC_IP", &c.PublicIP)
	str("RINGBRIDGE_SIP_ADDR", &c.SIPAddr)
	str("RINGBRIDGE_MEDIA_IP", &c.MediaIP)
	str("RINGBRIDGE_WEBRTC_STACK", &c.WebRTCStack)
	str("RINGBRIDGE_RTP_PORTS", &c.RTPPorts)
	str("RINGBRIDGE_JWT_SECRET", &c.JWTSecret)
	str("RINGBRIDGE_METRICS_ADDR", &c.MetricsAddr)
	str("RINGBRIDGE_METRICS_TOKEN", &c.MetricsToken)
	str("RINGBRIDGE_RECORDING_STORAGE", &c.RecordingStorage)
	str("RINGBRIDGE_S3_ENDPOINT", &c.S3.Endpoint)
	str("RINGBRIDGE_S3_BUCKET", &c.S3.Bucket)
	str("RINGBRIDGE_S3_REGION", &c.S3.Region)
	str("RINGBRIDGE_S3_ACCESS_KEY", &c.S3.AccessKey)
	str("RINGBRIDGE_S3_SECRET_KEY", &c.S3.SecretKey)
	str("RINGBRIDGE_S3_PREFIX", &c.S3.Prefix)
	if v, ok := os.LookupEnv("RINGBRIDGE_S3_SECURE"); ok {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("RINGBRIDGE_S3_SECURE: %w", err)
		}
		c.S3.Secure = b
	}
	if v, ok := os.LookupEnv("RINGBRIDGE_WEBHOOK_ALLOW_PRIVATE"); ok {
		c.WebhookAllowPrivate = splitList(v)
	}
	if v, ok := os.LookupEnv("RINGBRIDGE_EXTERNAL_TLS"); ok {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("RINGBRIDGE_EXTERNAL_TLS: %w", err)
		}
		c.ExternalTLS = b
	}
	str("RINGBRIDGE_LOG_LEVEL", &c.LogLevel)
	if v, ok := os.LookupEnv("RINGBRIDGE_NO_DEMO"); ok {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("RINGBRIDGE_NO_DEMO: %w", err)
		}
		c.NoDemo = b
	}
	if v, ok := os.LookupEnv("RINGBRIDGE_TLS"); ok {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("RINGBRIDGE_TLS: %w", err)
		}
		c.TLS = &b
	}
	for name, dst := range map[string]*Duration{"RINGBRIDGE_MEDIA_TIMEOUT": &c.MediaTimeout, "RINGBRIDGE_SHUTDOWN_TIMEOUT": &c.ShutdownTimeout, "RINGBRIDGE_WRAP_UP": &c.WrapUp,
		"RINGBRIDGE_QUALITY_INTERVAL":     &c.QualityInterval,
		"RINGBRIDGE_SIP_TCP_IDLE_TIMEOUT": &c.SIPTCPIdleTimeout} {
		if v, ok := os.LookupEnv(name); ok {
			d, err := time.ParseDuration(v)
			if err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			*dst = Duration(d)
		}
	}
	if v, ok := os.LookupEnv("RINGBRIDGE_WEBRTC_UDP_PORT"); ok {
		n, err := strconv.Atoi(v)
		if err != nil {
			return fmt.Errorf("RINGBRIDGE_WEBRTC_UDP_PORT: %w", err)
		}
		c.WebRTCUDPPort = n
	}
	if v, ok := os.LookupEnv("RINGBRIDGE_WEBRTC_TCP_PORT"); ok {
		n, err := strconv.Atoi(v)
		if err != nil {
			return fmt.Errorf("RINGBRIDGE_WEBRTC_TCP_PORT: %w", err)
		}
		c.WebRTCTCPPort = &n
	}
	if v, ok := os.LookupEnv("RINGBRIDGE_ICE_SERVERS"); ok && v != "" {
		c.ICEServers = []wsproto.ICEServer{{URLs: splitList(v)}}
	}
	if v := os.Getenv("RINGBRIDGE_TURN_URLS"); v != "" {
		c.TURNURLs = splitList(v)
	}
	if v := os.Getenv("RINGBRIDGE_TURN_SECRET"); v != "" {
		c.TURNSecret = v
	}
	if v, ok := os.LookupEnv("RINGBRIDGE_ALLOWED_ORIGINS"); ok {
		c.AllowedOrigins = splitList(v)
	}
	return nil
}

func splitList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

func (c *Config) setDefaults() {
	def := func(dst *string, v string) {
		if *dst == "" {
			*dst = v
		}
	}
	def(&c.DataDir, "./data")
	def(&c.Store, storeSQLite)
	def(&c.Bus, busLocal)
	if c.Store == storePostgres && c.Node == "" {
		c.Node, _ = os.Hostname()
	}
	def(&c.CertDir, "./certs")
	def(&c.HTTPAddr, ":8443")
	def(&c.SIPAddr, ":5060")
	def(&c.RTPPorts, "10000-20000")
	def(&c.LogLevel, "info")
	if c.TLS == nil {
		t := true
		c.TLS = &t
	}
	if c.WebRTCUDPPort == 0 {
		c.WebRTCUDPPort = 8443
	}
	if c.WebRTCTCPPort == nil {
		p := 8444
		c.WebRTCTCPPort = &p
	}
	if c.MediaTimeout == 0 {
		c.MediaTimeout = Duration(60 * time.Second)
	}
	if c.RingTimeout == 0 {
		c.RingTimeout = Duration(30 * time.Second)
	}
	if c.ShutdownTimeout == 0 {
		c.ShutdownTimeout = Duration(30 * time.Second)
	}
	if c.AwayReasons == nil {
		c.AwayReasons = []string{"lunch", "break", "meeting", "training", "other"}
	}
	if len(c.Trunks) == 0 {
		c.Trunks = []trunk.TrunkConfig{{Name: "local", Address: "127.0.0.1:5080", AllowFrom: []string{"127.0.0.0/8", "::1/128"}}}
	}
	if len(c.Numbers) == 0 {
		for _, ext := range []string{"1001", "1002"} {
			c.Numbers = append(c.Numbers,
				NumberConfig{Number: ext, Tenant: defaultTenant, Extension: ext},
				NumberConfig{Number: "+1555000" + ext, Tenant: defaultTenant, Extension: ext})
		}
	}
}

func (c *Config) validate() error {
	switch c.Store {
	case storeSQLite:
	case storePostgres:
		if c.PostgresURL == "" {
			return errors.New(`store "postgres" needs postgresUrl (RINGBRIDGE_POSTGRES_URL)`)
		}
	default:
		return fmt.Errorf(`store %q: want "sqlite" or "postgres"`, c.Store)
	}
	switch c.Bus {
	case busLocal:
	case busNATS:
		if c.NATSURL == "" {
			return errors.New(`bus "nats" needs natsUrl (RINGBRIDGE_NATS_URL)`)
		}
		if c.Store != storePostgres {
			return errors.New(`bus "nats" joins nodes that share a database: it needs store "postgres"`)
		}
	default:
		return fmt.Errorf(`bus %q: want "local" or "nats"`, c.Bus)
	}
	if _, _, err := c.rtpRange(); err != nil {
		return err
	}
	if c.PublicIP != "" {
		if _, err := netip.ParseAddr(c.PublicIP); err != nil {
			return fmt.Errorf("publicIp %q: %w", c.PublicIP, err)
		}
	}
	if c.WebRTCStack != "" && c.WebRTCStack != peer.StackLite && c.WebRTCStack != peer.StackPion {
		return fmt.Errorf("webrtcStack %q: want %q or %q", c.WebRTCStack, peer.StackLite, peer.StackPion)
	}
	if c.MediaIP != "" {
		if _, err := netip.ParseAddr(c.MediaIP); err != nil {
			return fmt.Errorf("mediaIp %q: %w", c.MediaIP, err)
		}
	}
	if c.IVRCallsPerMinute < 0 || c.IVRCallsPerMinute > 6000 || c.IVRCallsConcurrent < 0 || c.IVRCallsConcurrent > 10000 {
		return fmt.Errorf("ivrCallsPerMinute wants 0 to 6000 and ivrCallsConcurrent 0 to 10000 (0: the default)")
	}
	if _, err := webhook.ParsePrefixes(c.WebhookAllowPrivate); err != nil {
		return fmt.Errorf("webhookAllowPrivate: %w", err)
	}
	switch c.RecordingStorage {
	case "", cti.StorageLocal:
	case cti.StorageS3:
		if c.S3.Endpoint == "" || c.S3.Bucket == "" {
			return fmt.Errorf("recordingStorage s3 needs s3.endpoint and s3.bucket")
		}
	default:
		return fmt.Errorf("recordingStorage %q: want local or s3", c.RecordingStorage)
	}
	if (c.TURNSecret == "") != (len(c.TURNURLs) == 0) {
		return fmt.Errorf("turnUrls and turnSecret go together: the TURN server and its static-auth-secret")
	}
	if c.MetricsToken != "" && len(c.MetricsToken) < 16 {
		return fmt.Errorf("metricsToken: at least 16 characters")
	}
	for _, n := range c.Numbers {
		switch {
		case n.Route != "" && n.Route != string(cti.RouteCRM) && n.Route != string(cti.RouteQueue):
			return fmt.Errorf("numbers: %s: route %q, want \"\", \"crm\" or \"queue\"", n.Number, n.Route)
		case n.Route == string(cti.RouteQueue) && n.Queue == "":
			return fmt.Errorf("numbers: %s is routed to a queue and needs its name (queue)", n.Number)
		case n.Route == string(cti.RouteCRM) && n.Fallback == "" && n.Extension == "":
			return fmt.Errorf("numbers: %s is routed by CRM and needs a fallback extension", n.Number)
		case n.Number == "" || n.Tenant == "" || (n.Extension == "" && n.Route == ""):
			return fmt.Errorf("numbers: %+v needs number, tenant and extension", n)
		}
	}
	for id, t := range c.Tenants {
		if _, err := cti.ParseScreenPopMode(t.ScreenPop); err != nil {
			return fmt.Errorf("tenants.%s: %w", id, err)
		}
		if _, err := cti.ParseRecordingDelivery(t.RecordingDelivery); err != nil {
			return fmt.Errorf("tenants.%s: %w", id, err)
		}
		if r := t.DefaultRegion; r != "" && !cti.ValidRegion(r) {
			return fmt.Errorf("tenants.%s: defaultRegion %q: want a two-letter ISO region such as \"US\"", id, r)
		}
		if t.CRM != nil {
			if t.CRM.TimeoutMs < 0 || t.CRM.RouteTimeoutMs < 0 {
				return fmt.Errorf("tenants.%s.crm: timeouts must not be negative", id)
			}
			if err := t.CRM.Validate(); err != nil {
				return fmt.Errorf("tenants.%s.crm: %w", id, err)
			}
		}
	}
	return nil
}

func (c *Config) rtpRange() (int, int, error) {
	lo, hi, ok := strings.Cut(c.RTPPorts, "-")
	a, err1 := strconv.Atoi(strings.TrimSpace(lo))
	b, err2 := strconv.Atoi(strings.TrimSpace(hi))
	if !ok || err1 != nil || err2 != nil || a < 1024 || b > 65535 || a >= b {
		return 0, 0, fmt.Errorf("rtpPorts %q: want MIN-MAX within 1024-65535", c.RTPPorts)
	}
	return a, b, nil
}

// ctiConfig is the part of the configuration the core needs.
func (c *Config) ctiConfig() cti.Config {
	nums := map[string]cti.NumberRoute{}
	for _, n := range c.Numbers {
		r := cti.NumberRoute{TenantID: n.Tenant, Extension: n.Extension, Route: cti.RouteKind(n.Route), Queue: n.Queue}
		if r.Route == cti.RouteCRM && n.Fallback != "" {
			r.Extension = n.Fallback
		}
		nums[strings.TrimPrefix(n.Number, "+")] = r
	}
	rules := map[string]cti.DialRule{}
	for tenant, r := range c.DialRules {
		rules[tenant] = cti.DialRule{AllowPrefixes: r.AllowPrefixes, AllowCountries: r.AllowCountries, MaxDigits: r.MaxDigits,
			AllowPremium: r.AllowPremium}
	}
	tenants := map[string]cti.TenantSettings{}
	for id, t := range c.Tenants {
		mode, _ := cti.ParseScreenPopMode(t.ScreenPop)                 // validated
		delivery, _ := cti.ParseRecordingDelivery(t.RecordingDelivery) // validated
		ts := cti.TenantSettings{DefaultRegion: strings.ToUpper(t.DefaultRegion), ScreenPop: mode,
			Record: t.Record, RecordingDelivery: delivery}
		if t.CRM != nil {
			ts.LookupTimeout = time.Duration(t.CRM.TimeoutMs) * time.Millisecond
			ts.RouteTimeout = time.Duration(t.CRM.RouteTimeoutMs) * time.Millisecond
		}
		tenants[id] = ts
	}
	return cti.Config{Numbers: nums, DialRules: rules, RingTimeout: time.Duration(c.RingTimeout),
		WrapUp: time.Duration(c.WrapUp), AwayReasons: c.AwayReasons, Tenants: tenants,
		QualityInterval: time.Duration(c.QualityInterval), IVRCallsPerMinute: c.IVRCallsPerMinute,
		IVRCallsConcurrent: c.IVRCallsConcurrent}
}

// crmTenants is the CRM connection of every tenant that has one.
func (c *Config) crmTenants() map[string]crm.TenantConfig {
	out := map[string]crm.TenantConfig{}
	for id, t := range c.Tenants {
		if t.CRM != nil {
			out[id] = t.CRM.TenantConfig
		}
	}
	return out
}
