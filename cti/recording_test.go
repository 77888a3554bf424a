package cti

import (
	"strings"
	"testing"
)

func TestRecordingCodeRoundTrip(t *testing.T) {
	secret := []byte("0123456789abcdef0123456789abcdef")
	id := newID("rec")
	code := recordingCode(secret, id)
	if strings.Contains(code, id) || strings.ContainsAny(code, "+/=") {
		t.Fatalf("code %q is not opaque base64url", code)
	}
	got, err := parseRecordingCode(secret, code)
	if err != nil || got != id {
		t.Fatalf("parse: %q, %v", got, err)
	}
	forged := recordingCode([]byte("another secret of thirty-two bytes"), id)
	other := recordingCode(secret, "rec_other")
	flipped := []byte(code)
	flipped[len(flipped)-3] ^= 1
	for _, bad := range []string{"", "garbage!", "cmVjX3g", forged, string(flipped), other[:len(other)-1],
		recordingCode(secret, "call_123"), strings.Repeat("A", 300)} {
		if _, err := parseRecordingCode(secret, bad); ErrorKind(err) != KindInvalid {
			t.Errorf("code %q: %v, want invalid", bad, err)
		}
	}
}
