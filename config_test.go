package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestConfigDefaults(t *testing.T) {
	t.Setenv("RINGBRIDGE_CONFIG", "")
	cfg, err := loadConfig("")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.HTTPAddr != ":8443" || cfg.SIPAddr != ":5060" || cfg.WebRTCUDPPort != 8443 || *cfg.WebRTCTCPPort != 8444 ||
		!*cfg.TLS || cfg.DataDir != "./data" || time.Duration(cfg.ShutdownTimeout) != 30*time.Second {
		t.Fatalf("defaults: %+v", cfg)
	}
	routes := cfg.ctiConfig().Numbers
	if routes["15550001001"].Extension != "1001" || routes["1002"].Extension != "1002" {
		t.Fatalf("default numbers: %+v", routes)
	}
	if len(cfg.Trunks) != 1 || cfg.Trunks[0].AllowFrom[0] != "127.0.0.0/8" {
		t.Fatalf("default trunk: %+v", cfg.Trunks)
	}
}

func TestConfigFileThenEnv(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rb.json")
	err := os.WriteFile(path, []byte(`{"httpAddr": ":9000", "publicIp": "203.0.113.10", "mediaTimeout": "15s",
		"dialRules": {"demo": {"allowPrefixes": ["+36"], "maxDigits": 12}}}`), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("RINGBRIDGE_HTTP_ADDR", ":9100")
	t.Setenv("RINGBRIDGE_TLS", "false")
	t.Setenv("RINGBRIDGE_ICE_SERVERS", "stun:a.example:3478, turn:b.example:3478")
	cfg, err := loadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.HTTPAddr != ":9100" || *cfg.TLS || cfg.PublicIP != "203.0.113.10" || time.Duration(cfg.MediaTimeout) != 15*time.Second {
		t.Fatalf("merged config: %+v", cfg)
	}
	if got := cfg.ICEServers[0].URLs; len(got) != 2 || got[1] != "turn:b.example:3478" {
		t.Fatalf("ice servers %v", got)
	}
	if r := cfg.ctiConfig().DialRules["demo"]; r.MaxDigits != 12 || r.AllowPrefixes[0] != "+36" {
		t.Fatalf("dial rules %+v", r)
	}
}

func TestConfigTenantsAndCRM(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rb.json")
	err := os.WriteFile(path, []byte(`{
		"numbers": [{"number": "+15550001000", "tenant": "demo", "route": "crm", "fallback": "1001"}],
		"dialRules": {"demo": {"allowCountries": ["US", "CA"]}},
		"tenants": {"demo": {"defaultRegion": "hu", "screenPop": "both",
			"crm": {"lookupUrl": "https://crm.example/lookup", "routingUrl": "https://crm.example/route",
				"apiKey": "k", "authHeader": "X-Api-Key", "timeoutMs": 500, "routeTimeoutMs": 700}}}}`), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := loadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	cc := cfg.ctiConfig()
	if r := cc.Numbers["15550001000"]; r.Route != "crm" || r.Extension != "1001" {
		t.Fatalf("crm-routed number %+v", r)
	}
	ts := cc.Tenants["demo"]
	if ts.DefaultRegion != "HU" || ts.ScreenPop != "both" || ts.LookupTimeout != 500*time.Millisecond || ts.RouteTimeout != 700*time.Millisecond {
		t.Fatalf("tenant settings %+v", ts)
	}
	if r := cc.DialRules["demo"]; len(r.AllowCountries) != 2 {
		t.Fatalf("dial rules %+v", r)
	}
	if c := cfg.crmTenants()["demo"]; c.LookupURL != "https://crm.example/lookup" || c.AuthHeader != "X-Api-Key" {
		t.Fatalf("crm %+v", c)
	}
}

func TestConfigErrorsAreClear(t *testing.T) {
	dir := t.TempDir()
	cases := map[string]string{
		`{"httpAdr": ":1"}`:              "unknown field",
		`{"rtpPorts": "9000-8000"}`:      "rtpPorts",
		`{"publicIp": "not-an-ip"}`:      "publicIp",
		`{"mediaTimeout": 30}`:           "duration",
		`{"numbers": [{"number": "1"}]}`: "numbers",
		`not json`:                       "invalid character",
		`{"numbers": [{"number": "1", "tenant": "demo", "route": "crm"}]}`:                     "fallback",
		`{"numbers": [{"number": "1", "tenant": "demo", "extension": "1", "route": "magic"}]}`: "route",
		`{"tenants": {"demo": {"screenPop": "sometimes"}}}`:                                    "screenPop",
		`{"tenants": {"demo": {"defaultRegion": "XX"}}}`:                                       "defaultRegion",
		`{"tenants": {"demo": {"crm": {"lookupUrl": "ftp://crm"}}}}`:                           "lookupUrl",
		`{"tenants": {"demo": {"crm": {"lookupUrl": "https://crm", "lookupMethod": "PUT"}}}}`:  "lookupMethod",
	}
	i := 0
	for body, want := range cases {
		i++
		path := filepath.Join(dir, "c"+string(rune('a'+i))+".json")
		if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := loadConfig(path)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("config %s: error %v, want it to mention %q", body, err, want)
		}
	}
	t.Setenv("RINGBRIDGE_TLS", "maybe")
	if _, err := loadConfig(""); err == nil || !strings.Contains(err.Error(), "RINGBRIDGE_TLS") {
		t.Errorf("bad env: %v", err)
	}
}

// The store and bus settings: SQLite and the local bus by default; a
// store or bus that is named needs its URL, and the NATS bus joins nodes
// that share PostgreSQL. The node name defaults to the host name.
func TestConfigStoreAndBus(t *testing.T) {
	for _, k := range []string{"RINGBRIDGE_CONFIG", "RINGBRIDGE_STORE", "RINGBRIDGE_POSTGRES_URL", "RINGBRIDGE_NODE", "RINGBRIDGE_BUS", "RINGBRIDGE_NATS_URL"} {
		t.Setenv(k, "")
		os.Unsetenv(k)
	}
	cfg, err := loadConfig("")
	if err != nil || cfg.Store != storeSQLite || cfg.Bus != busLocal || cfg.Node != "" {
		t.Fatalf("defaults: store %q bus %q node %q, %v", cfg.Store, cfg.Bus, cfg.Node, err)
	}
	for env, want := range map[string]string{
		"store=mysql":                             `store "mysql"`,
		"store=postgres":                          "needs postgresUrl",
		"store=sqlite bus=nats natsurl=nats:x":    `needs store "postgres"`,
		"store=postgres pg=postgres://x bus=nats": "needs natsUrl",
		"bus=kafka":                               `bus "kafka"`,
	} {
		t.Run(env, func(t *testing.T) {
			for _, kv := range strings.Fields(env) {
				k, v, _ := strings.Cut(kv, "=")
				name := map[string]string{"store": "RINGBRIDGE_STORE", "pg": "RINGBRIDGE_POSTGRES_URL", "bus": "RINGBRIDGE_BUS",
					"natsurl": "RINGBRIDGE_NATS_URL"}[k]
				t.Setenv(name, v)
			}
			if _, err := loadConfig(""); err == nil || !strings.Contains(err.Error(), want) {
				t.Fatalf("%s: %v, want an error saying %q", env, err, want)
			}
		})
	}
	t.Setenv("RINGBRIDGE_STORE", "postgres")
	t.Setenv("RINGBRIDGE_POSTGRES_URL", "postgres://db/rb")
	t.Setenv("RINGBRIDGE_BUS", "nats")
	t.Setenv("RINGBRIDGE_NATS_URL", "nats://127.0.0.1:4222")
	cfg, err = loadConfig("")
	host, _ := os.Hostname()
	if err != nil || cfg.Node != host {
		t.Fatalf("postgres + nats: node %q (want the host name %q), %v", cfg.Node, host, err)
	}
}
