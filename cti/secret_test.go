package cti

import (
	"encoding/base64"
	"errors"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/crypto/argon2"
)

func TestPasswordRoundTrip(t *testing.T) {
	phc, err := HashPassword("correct horse")
	if err != nil {
		t.Fatalf("HashPassword: %v", err)
	}
	if !regexp.MustCompile(`^\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$`).MatchString(phc) {
		t.Fatalf("unexpected PHC format: %s", phc)
	}
	if ok, err := VerifyPassword(phc, "correct horse"); err != nil || !ok {
		t.Fatalf("VerifyPassword(right) = %v, %v", ok, err)
	}
	if ok, err := VerifyPassword(phc, "correct horse "); err != nil || ok {
		t.Fatalf("VerifyPassword(wrong) = %v, %v", ok, err)
	}

	again, err := HashPassword("correct horse")
	if err != nil {
		t.Fatal(err)
	}
	if again == phc {
		t.Fatal("two hashes of the same password are identical; salt not random")
	}

	if _, err := HashPassword(""); ErrorKind(err) != KindInvalid {
		t.Fatalf("HashPassword(\"\") = %v, want invalid", err)
	}
}

func TestVerifyPasswordHonoursStoredParams(t *testing.T) {
	// Hashes made with other (cheaper) parameters must keep verifying after
	// the defaults change, so parameters come from the string.
	salt := []byte("0123456789abcdef")
	key := argon2.IDKey([]byte("pw"), salt, 1, 64, 1, 24)
	phc := "$argon2id$v=19$m=64,t=1,p=1$" + b64.EncodeToString(salt) + "$" + b64.EncodeToString(key)
	if ok, err := VerifyPassword(phc, "pw"); err != nil || !ok {
		t.Fatalf("VerifyPassword = %v, %v", ok, err)
	}
}

func TestVerifyPasswordMalformed(t *testing.T) {
	good, err := HashPassword("pw")
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(good, "$")
	swap := func(i int, v string) string {
		p := append([]string(nil), parts...)
		p[i] = v
		return strings.Join(p, "$")
	}
	cases := map[string]string{
		"empty":          "",
		"plaintext":      "hunter2",
		"bcrypt":         "$2a$10$abcdefghijklmnopqrstuuABCDEFGHIJKLMNOPQRSTUVWXYZ01234",
		"argon2i":        swap(1, "argon2i"),
		"old version":    swap(2, "v=16"),
		"missing param":  swap(3, "m=19456,t=2"),
		"dup param":      swap(3, "m=19456,t=2,p=1,p=1"),
		"unknown param":  swap(3, "m=19456,t=2,p=1,x=3"),
		"non-numeric":    swap(3, "m=lots,t=2,p=1"),
		"huge memory":    swap(3, "m=4294967295,t=2,p=1"),
		"zero time":      swap(3, "m=19456,t=0,p=1"),
		"bad salt b64":   swap(4, "!!!"),
		"padded hash":    swap(5, parts[5]+"="),
		"short hash":     swap(5, b64.EncodeToString([]byte("short"))),
		"trailing field": good + "$x",
	}
	for name, phc := range cases {
		ok, err := VerifyPassword(phc, "pw")
		if ok || !errors.Is(err, ErrMalformedHash) {
			t.Errorf("%s: VerifyPassword(%q) = %v, %v; want ErrMalformedHash", name, phc, ok, err)
		}
	}
}

func TestGeneratePassword(t *testing.T) {
	seen := map[string]bool{}
	for range 50 {
		pw := GeneratePassword(20)
		if len(pw) != 20 {
			t.Fatalf("len = %d", len(pw))
		}
		if strings.ContainsAny(pw, "0Oo1lI") {
			t.Fatalf("ambiguous character in %q", pw)
		}
		for _, r := range pw {
			if !strings.ContainsRune(passwordAlphabet, r) {
				t.Fatalf("character %q outside alphabet", r)
			}
		}
		if seen[pw] {
			t.Fatalf("duplicate password %q", pw)
		}
		seen[pw] = true
	}
	if got := len(GeneratePassword(0)); got != 16 {
		t.Fatalf("GeneratePassword(0) length = %d, want 16", got)
	}
}

func TestOpaqueToken(t *testing.T) {
	tok, hash := NewOpaqueToken()
	raw, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil || len(raw) != 32 {
		t.Fatalf("token %q: %d bytes, %v", tok, len(raw), err)
	}
	if again := HashToken(tok); hash != HashToken(tok) || again != hash {
		t.Fatal("token hash not stable")
	}
	if !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(hash) {
		t.Fatalf("hash %q is not hex sha256", hash)
	}
	// Known vector so the stored format cannot drift silently.
	if got := HashToken("abc"); got != "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" {
		t.Fatalf("HashToken(abc) = %s", got)
	}
	tok2, hash2 := NewOpaqueToken()
	if tok2 == tok || hash2 == hash {
		t.Fatal("tokens repeat")
	}
}
