package server

import "testing"

func TestOriginPolicyComparesSchemeHostAndPort(t *testing.T) {
	p, err := newOriginPolicy([]string{"https://crm.example.test"}, false)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		origin, host, scheme string
		want                 bool
	}{
		{"https://pbx.example.test", "pbx.example.test", "https", true},
		{"https://pbx.example.test", "pbx.example.test:443", "https", true},
		{"https://pbx.example.test:443", "pbx.example.test", "https", true},
		{"https://PBX.example.test", "pbx.example.test", "https", true},
		{"http://pbx.example.test", "pbx.example.test", "https", false},
		{"https://pbx.example.test:8443", "pbx.example.test", "https", false},
		{"https://pbx.example.test", "pbx.example.test:8443", "https", false},
		{"http://127.0.0.1:8080", "127.0.0.1:8080", "http", true},
		{"http://127.0.0.1:8081", "127.0.0.1:8080", "http", false},
		{"http://[::1]:8080", "[::1]:8080", "http", true},
		{"https://crm.example.test", "pbx.example.test", "https", true}, // allow-listed
		{"https://crm.example.test:444", "pbx.example.test", "https", false},
		{"null", "pbx.example.test", "https", false},
		{"https://u@pbx.example.test", "pbx.example.test", "https", false},
		{"", "pbx.example.test", "https", false},
	} {
		if got := p.allows(tc.origin, tc.host, tc.scheme); got != tc.want {
			t.Errorf("allows(%q, %q, %q) = %v, want %v", tc.origin, tc.host, tc.scheme, got, tc.want)
		}
	}
}
