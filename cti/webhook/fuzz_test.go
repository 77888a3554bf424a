package webhook

import (
	"context"
	"encoding/json"
	"net"
	"net/netip"
	"reflect"
	"testing"
)

// FuzzConfig: an administrator's endpoint configuration. Whatever
// validates also parses into the worker's settings, survives a JSON round
// trip still valid and unchanged, and the SSRF check on its URL never
// panics.
func FuzzConfig(f *testing.F) {
	for _, s := range []string{
		`{"url":"https://crm.example.com/hook","events":["*"]}`,
		`{"url":"http://crm","events":["call.ended","call.ended"],"method":"get","fields":["call.from","call.legs.number"],"batchSize":1}`,
		`{"url":"https://crm/x","events":["*"],"auth":{"type":"basic","username":"u","password":"p"},"retry":{"retries":0}}`,
		`{"url":"https://crm/x","events":["*"],"auth":{"type":"apiKey","in":"query","name":"key","value":"v"},"rateLimit":{"perMinute":400,"perDay":2500}}`,
		`{"url":"https://crm/x","events":["*"],"retry":{"intervals":["1s","2h"]},"timeout":"59s","batchSize":500}`,
		`{"url":"http://[::1]:80/x","events":["*"]}`, `{"url":" https://10.0.0.1 ","events":["*"]}`, `{"url":"https://crm/%zz"}`,
		`{"url":"https://crm/x","events":["*"],"retry":{"retries":-1}}`, `{}`, `[]`,
	} {
		f.Add([]byte(s))
	}
	policy := AddrPolicy{AllowPrivate: []netip.Prefix{netip.MustParsePrefix("10.1.0.0/16")}}
	f.Fuzz(func(t *testing.T, data []byte) {
		var c Config
		if json.Unmarshal(data, &c) != nil {
			return
		}
		c.Normalize()
		_ = policy.CheckTarget(context.Background(), noNames{}, c.URL)
		if c.Validate(DefaultLimits) != nil {
			return
		}
		if _, err := c.parse(); err != nil {
			t.Fatalf("valid config %+v does not parse: %v", c, err)
		}
		b, err := json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		var c2 Config
		if err := json.Unmarshal(b, &c2); err != nil {
			t.Fatalf("re-decoding %s: %v", b, err)
		}
		c2.Normalize()
		if err := c2.Validate(DefaultLimits); err != nil {
			t.Fatalf("round trip of a valid config is invalid: %v\n%s", err, b)
		}
		if !reflect.DeepEqual(c, c2) {
			t.Fatalf("round trip changed the config:\n%+v\n%+v", c, c2)
		}
	})
}

type noNames struct{}

func (noNames) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
}
