package webhook_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ringbridge/ringbridge/cti"
	"github.com/ringbridge/ringbridge/cti/webhook"
)

// The independent verifier itself must accept the specification's own
// test vector, or the signature tests prove nothing.
func TestVerifierAcceptsSpecVector(t *testing.T) {
	h := http.Header{}
	h.Set("webhook-id", "msg_p5jXN8AQM9LWM0D4loKWxJek")
	h.Set("webhook-timestamp", "1614265330")
	h.Set("webhook-signature", "v1,bm9wZQ== v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
	body := []byte(`{"test": 2432232314}`)
	at := time.Unix(1614265330, 0)
	if err := verifySignature("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", h, body, at); err != nil {
		t.Fatalf("spec vector rejected: %v", err)
	}
	if err := verifySignature("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", h, []byte(`{"test": 2432232315}`), at); err == nil {
		t.Fatal("altered payload accepted")
	}
}

func TestConfigDefaults(t *testing.T) {
	c := webhook.Config{URL: " https://crm.example.com/hook ", Events: []string{"call.ended", "call.ended"}}
	c.Normalize()
	if err := c.Validate(webhook.DefaultLimits); err != nil {
		t.Fatal(err)
	}
	if c.URL != "https://crm.example.com/hook" || c.Method != "POST" || c.Auth.Type != "none" ||
		c.Timeout != "10s" || c.BatchSize != 1 || *c.Retry.Retries != 5 ||
		!slices.Equal(c.Retry.Intervals, []string{"10s", "1m", "5m", "30m", "2h"}) ||
		!slices.Equal(c.Events, []string{"call.ended"}) {
		t.Fatalf("defaults %+v", c)
	}
	c = webhook.Config{URL: "http://crm", Events: []string{"*"}, Retry: webhook.Retry{Intervals: []string{"30s", "5m"}}}
	c.Normalize()
	if *c.Retry.Retries != 2 {
		t.Fatalf("retries %d, want len(intervals)", *c.Retry.Retries)
	}
	zero := 0
	c = webhook.Config{URL: "http://crm", Events: []string{"*"}, Retry: webhook.Retry{Retries: &zero}}
	c.Normalize()
	if err := c.Validate(webhook.DefaultLimits); err != nil || len(c.Retry.Intervals) != 0 {
		t.Fatalf("no retries: %v %v", c.Retry.Intervals, err)
	}
}

func TestConfigValidation(t *testing.T) {
	ok := func() webhook.Config {
		return webhook.Config{URL: "https://crm.example.com/hook", Events: []string{"call.ended"}}
	}
	cases := []struct {
		name   string
		mutate func(*webhook.Config)
		want   string
	}{
		{"no url", func(c *webhook.Config) { c.URL = "" }, "url: is required"},
		{"ftp", func(c *webhook.Config) { c.URL = "ftp://crm/x" }, `url: scheme must be http or https, not "ftp"`},
		{"relative", func(c *webhook.Config) { c.URL = "/hook" }, "url: scheme must be http or https"},
		{"no host", func(c *webhook.Config) { c.URL = "https:///x" }, "url: has no host"},
		{"credentials", func(c *webhook.Config) { c.URL = "https://u:p@crm/x" }, "url: must not contain credentials"},
		{"fragment", func(c *webhook.Config) { c.URL = "https://crm/x#y" }, "fragment"},
		{"garbage", func(c *webhook.Config) { c.URL = "https://crm/%zz" }, "is not a valid URL"},
		{"no events", func(c *webhook.Config) { c.Events = nil }, "events: at least one event type is required"},
		{"unknown event", func(c *webhook.Config) { c.Events = []string{"call.ended", "call.exploded"} }, `events[1]: unknown event type "call.exploded"`},
		{"star and more", func(c *webhook.Config) { c.Events = []string{"*", "call.ended"} }, `"*" must be the only entry`},
		{"method", func(c *webhook.Config) { c.Method = "PATCH" }, `method: must be POST or GET, not "PATCH"`},
		{"auth type", func(c *webhook.Config) { c.Auth.Type = "oauth" }, `auth.type: must be`},
		{"basic without user", func(c *webhook.Config) { c.Auth = webhook.Auth{Type: "basic", Password: "p"} }, "auth.username: is required"},
		{"basic colon", func(c *webhook.Config) { c.Auth = webhook.Auth{Type: "basic", Username: "a:b"} }, "must not contain ':'"},
		{"key without name", func(c *webhook.Config) { c.Auth = webhook.Auth{Type: "apiKey", Value: "v"} }, "auth.name: is required"},
		{"key without value", func(c *webhook.Config) { c.Auth = webhook.Auth{Type: "apiKey", Name: "X-Key"} }, "auth.value: is required"},
		{"key bad header", func(c *webhook.Config) { c.Auth = webhook.Auth{Type: "apiKey", Name: "X Key", Value: "v"} }, "is not a valid HTTP header name"},
		{"key reserved header", func(c *webhook.Config) { c.Auth = webhook.Auth{Type: "apiKey", Name: "Webhook-Signature", Value: "v"} }, "is set by ringbridge"},
		{"key in cookie", func(c *webhook.Config) { c.Auth = webhook.Auth{Type: "apiKey", In: "cookie", Name: "k", Value: "v"} }, `auth.in: must be "header" or "query"`},
		{"key newline", func(c *webhook.Config) { c.Auth = webhook.Auth{Type: "apiKey", Name: "X-Key", Value: "a\nb"} }, "control characters"},
		{"none with creds", func(c *webhook.Config) { c.Auth = webhook.Auth{Type: "none", Password: "p"} }, "credentials given but auth.type"},
		{"field path", func(c *webhook.Config) { c.Fields = []string{"call.id", "call..from"} }, `fields[1]: "call..from" is not a dotted path`},
		{"retries", func(c *webhook.Config) { c.Retry.Retries = intp(99) }, "retry.retries: must be between 0 and 20, got 99"},
		{"interval syntax", func(c *webhook.Config) { c.Retry.Intervals = []string{"10s", "5x"} }, `retry.intervals[1]: "5x" is not a duration`},
		{"interval short", func(c *webhook.Config) { c.Retry.Intervals = []string{"10ms"} }, "retry.intervals[0]: must be between 1s and 24h0m0s, got 10ms"},
		{"timeout", func(c *webhook.Config) { c.Timeout = "5m" }, "timeout: must be between 1s and 1m0s, got 5m"},
		{"timeout syntax", func(c *webhook.Config) { c.Timeout = "soon" }, `timeout: "soon" is not a duration`},
		{"per minute", func(c *webhook.Config) { c.RateLimit.PerMinute = -1 }, "rateLimit.perMinute: must be between 0"},
		{"per day", func(c *webhook.Config) { c.RateLimit.PerDay = 5_000_000 }, "rateLimit.perDay: must be between 0 (no limit) and 1000000, got 5000000"},
		{"batch size", func(c *webhook.Config) { c.BatchSize = 1000 }, "batchSize: must be between 1 and 500, got 1000"},
		{"batch GET", func(c *webhook.Config) { c.Method = "GET"; c.BatchSize = 5 }, "batching needs method POST"},
		{"description", func(c *webhook.Config) { c.Description = strings.Repeat("d", 201) }, "description: at most 200 characters"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := ok()
			tc.mutate(&c)
			c.Normalize()
			err := c.Validate(webhook.DefaultLimits)
			if err == nil {
				t.Fatalf("accepted %+v", c)
			}
			if cti.ErrorKind(err) != cti.KindInvalid || !strings.Contains(cti.ErrorMessage(err), tc.want) {
				t.Fatalf("error %q (kind %s), want it to contain %q", cti.ErrorMessage(err), cti.ErrorKind(err), tc.want)
			}
		})
	}
}
