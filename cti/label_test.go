package cti

import (
	"regexp"
	"strings"
	"testing"
)

// labelPattern is what validLabel implements, kept here as its
// specification: the regexp itself costs too much heap to keep.
var labelPattern = regexp.MustCompile(`^[\p{L}\p{N}][\p{L}\p{N} ._/-]{0,63}$`)

func TestValidLabelIsThePattern(t *testing.T) {
	cases := []string{
		"", "a", "Sales", "sales team", "Ventes/Export", "B2B_support-1.0",
		" leading space", ".dot", "-dash", "_under", "/slash", "trailing ",
		"Kundendienst Österreich", "サポート", "الدعم", "Поддержка", "٣٤", "Ⅻ roman",
		"tab\there", "new\nline", "semi;colon", "emoji 😀", "a\u00a0nbsp", "\ufffd",
		"bad \xff utf8", "\xc3", "x" + strings.Repeat("y", 63), "x" + strings.Repeat("y", 64),
		strings.Repeat("é", 64), strings.Repeat("é", 65), strings.Repeat("日", 64) + " ",
		"combining e\u0301", "digits ²³", "a\u200bzero-width",
	}
	for _, s := range cases {
		if got, want := validLabel(s), labelPattern.MatchString(s); got != want {
			t.Errorf("validLabel(%q) = %v; the pattern says %v", s, got, want)
		}
	}
}

func FuzzValidLabel(f *testing.F) {
	for _, s := range []string{"Sales", "a b", " x", "é/ü", "\xff", strings.Repeat("a", 65)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := validLabel(s), labelPattern.MatchString(s); got != want {
			t.Errorf("validLabel(%q) = %v; the pattern says %v", s, got, want)
		}
	})
}
