package cti

import (
	"strings"
	"testing"
)

// FuzzNormalizeE164: numbers from people, CRMs and trunks either fail
// with a clear error or come out as E.164 that normalises to itself.
func FuzzNormalizeE164(f *testing.F) {
	for _, s := range []string{"+1 (555) 123-4567", "06 30 123 4567", "0036301234567", "15557654321", "+44 20 7946 0000",
		"1-900-CALL", "", "+", "++1", "0000000000000000000000", "+1 555 123 4567 ext. 89", "tel:+15551234567", "\x00", "１２３"} {
		f.Add(s, "US")
		f.Add(s, "HU")
	}
	f.Add("+15551234567", "")
	f.Add("0123", "ZZ")
	f.Fuzz(func(t *testing.T, raw, region string) {
		n, err := NormalizeE164(raw, region)
		if err != nil {
			if ErrorKind(err) != KindInvalid {
				t.Fatalf("NormalizeE164(%q, %q): %v is not KindInvalid", raw, region, err)
			}
			return
		}
		if len(n) < 3 || len(n) > 16 || n[0] != '+' || !allDigits(n[1:]) {
			t.Fatalf("NormalizeE164(%q, %q) = %q, not E.164", raw, region, n)
		}
		again, err := NormalizeE164(n, region)
		if err != nil || again != n {
			t.Fatalf("NormalizeE164(%q) = %q, %v; want it unchanged", n, again, err)
		}
		_ = NumberRegion(n)
		_ = IsPremiumRate(n)
		if strings.ContainsAny(n, " -()") {
			t.Fatalf("formatting left in %q", n)
		}
	})
}
