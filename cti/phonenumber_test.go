package cti

import "testing"

func TestNormalizeE164(t *testing.T) {
	for _, c := range []struct{ raw, region, want string }{
		{"+1 (555) 123-4567", "US", "+15551234567"},
		{"555-123-4567", "US", "+15551234567"},
		{"15557654321", "US", "+15557654321"},
		{"15557654321", "HU", "+15557654321"}, // bare international digits
		{"06 30 123 4567", "HU", "+36301234567"},
		{"0036301234567", "HU", "+36301234567"},
		{"011 36 30 123 4567", "US", "+36301234567"},
		{"+44 20 7946 0000", "", "+442079460000"},
		{"abc", "US", ""},
		{"123", "US", ""},
		{"", "US", ""},
		{"+1 555 123", "US", ""},
	} {
		got, err := NormalizeE164(c.raw, c.region)
		if c.want == "" {
			if err == nil || ErrorKind(err) != KindInvalid {
				t.Errorf("NormalizeE164(%q, %q) = %q, %v; want an invalid error", c.raw, c.region, got, err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("NormalizeE164(%q, %q) = %q, %v; want %q", c.raw, c.region, got, err, c.want)
		}
	}
	if !ValidRegion("hu") || ValidRegion("XX") || ValidRegion("USA") {
		t.Error("ValidRegion")
	}
	for n, want := range map[string]string{"+36301234567": "HU", "+15551234567": "US", "+18765551234": "JM", "+12025550143": "US", "+999": ""} {
		if r := NumberRegion(n); r != want {
			t.Errorf("NumberRegion(%s) = %q, want %q", n, r, want)
		}
	}
}
