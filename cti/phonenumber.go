package cti

import (
	"strings"

	"github.com/nyaruka/phonenumbers"
)

// DefaultRegion is the region numbers without a country code are read in
// when a tenant sets none (ISO 3166-1 alpha-2).
const DefaultRegion = "US"

// NormalizeE164 reads a phone number as people, CRMs and trunks write it
// ("+1 (555) 123-4567", "06 30 123 4567", "0036301234567", or the bare
// international digits many trunks send) and returns it in E.164
// ("+15551234567"). region is the country national numbers belong to.
//
// A number is accepted when it is possible for its country (right length
// for the country code), not only when it lies in a range the library's
// metadata lists as assigned: new ranges must not be refused while the
// metadata catches up, and fictional 555 numbers are fine for tests.
func NormalizeE164(raw, region string) (string, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return "", Errorf(KindInvalid, "phone number is empty")
	}
	if len(raw) > 64 {
		return "", Errorf(KindInvalid, "phone number is too long")
	}
	if region == "" {
		region = DefaultRegion
	}
	region = strings.ToUpper(region)
	if n, err := phonenumbers.Parse(raw, region); err == nil && phonenumbers.IsPossibleNumber(n) {
		if e, ok := stableE164(n); ok {
			return e, nil
		}
	}
	// Trunks often send international numbers as bare digits
	// ("15557654321", "36301234567"): try them as if prefixed by +.
	if digits := strings.TrimPrefix(raw, "+"); digits != raw || !allDigits(digits) {
		return "", Errorf(KindInvalid, "%q is not a valid phone number", raw)
	} else if n, err := phonenumbers.Parse("+"+digits, region); err == nil && phonenumbers.IsPossibleNumber(n) {
		if e, ok := stableE164(n); ok {
			return e, nil
		}
	}
	return "", Errorf(KindInvalid, "%q is not a valid phone number", raw)
}

// stableE164 formats n as E.164 and accepts the result only if it reads
// back as itself. Some inputs (found by fuzzing: "00000000" in region
// AX) format to a string that parses as a different number; storing such
// a form would make the same caller two different numbers.
func stableE164(n *phonenumbers.PhoneNumber) (string, bool) {
	e := phonenumbers.Format(n, phonenumbers.E164)
	back, err := phonenumbers.Parse(e, DefaultRegion)
	if err != nil || !phonenumbers.IsPossibleNumber(back) || phonenumbers.Format(back, phonenumbers.E164) != e {
		return "", false
	}
	return e, true
}

// NumberRegion returns the ISO region of an E.164 number ("US", "HU"), or
// "" when it cannot tell. A number in a range the metadata does not list
// counts for the main region of its country code (+1 555… is "US"), but
// a number listed for another region sharing the code (+1 876…, Jamaica)
// is that region: allowing "US" must not allow the Caribbean.
func NumberRegion(e164 string) string {
	n, err := phonenumbers.Parse(e164, DefaultRegion)
	if err != nil {
		return ""
	}
	if r := phonenumbers.GetRegionCodeForNumber(n); r != "" {
		return r
	}
	if r := phonenumbers.GetRegionCodeForCountryCode(int(n.GetCountryCode())); r != "ZZ" {
		return r
	}
	return ""
}

// ValidRegion reports whether region is an ISO 3166-1 alpha-2 code the
// phone number library knows ("US", "HU").
func ValidRegion(region string) bool {
	return len(region) == 2 && phonenumbers.GetCountryCodeForRegion(strings.ToUpper(region)) != 0
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// IsPremiumRate reports whether an E.164 number is premium-rate (or
// shared-cost, which carriers bill the same way) by the phone number
// metadata: the destinations of toll fraud.
func IsPremiumRate(e164 string) bool {
	n, err := phonenumbers.Parse(e164, DefaultRegion)
	if err != nil {
		return false
	}
	switch phonenumbers.GetNumberType(n) {
	case phonenumbers.PREMIUM_RATE, phonenumbers.SHARED_COST:
		return true
	}
	return false
}
