package cti

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Argon2id parameters from RFC 9106 / the OWASP password storage cheat sheet
// (second recommended option: 19 MiB, 2 passes, 1 lane). They are recorded in
// every hash, so raising them later does not invalidate stored passwords.
const (
	argonMemoryKiB = 19456
	argonTime      = 2
	argonThreads   = 1
	argonSaltLen   = 16
	argonKeyLen    = 32
)

// Upper bounds for parameters read back from a stored hash, so that a
// tampered or corrupt row cannot make one login attempt allocate gigabytes
// or spin for minutes.
const (
	maxArgonMemoryKiB = 1 << 20 // 1 GiB
	maxArgonTime      = 16
	maxArgonKeyLen    = 128
)

// ErrMalformedHash is returned by VerifyPassword for a stored hash it cannot
// parse. It signals a data problem, not a wrong password.
var ErrMalformedHash = errors.New("malformed password hash")

var b64 = base64.RawStdEncoding

// HashPassword hashes pw with argon2id and a fresh random salt, returning a
// PHC string: $argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>.
func HashPassword(pw string) (string, error) {
	if pw == "" {
		return "", Errorf(KindInvalid, "password must not be empty")
	}
	salt := make([]byte, argonSaltLen)
	// crypto/rand.Read never fails on supported platforms (it crashes the
	// program instead), the check is for the documented signature.
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("password salt: %w", err)
	}
	key := argon2.IDKey([]byte(pw), salt, argonTime, argonMemoryKiB, argonThreads, argonKeyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, argonMemoryKiB, argonTime, argonThreads,
		b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// VerifyPassword reports whether pw matches the PHC hash. A wrong password is
// (false, nil); an unparsable hash is an error wrapping ErrMalformedHash.
func VerifyPassword(phc, pw string) (bool, error) {
	p, err := parsePHC(phc)
	if err != nil {
		return false, err
	}
	key := argon2.IDKey([]byte(pw), p.salt, p.time, p.memory, p.threads, uint32(len(p.key)))
	return subtle.ConstantTimeCompare(key, p.key) == 1, nil
}

type argonParams struct {
	memory, time uint32
	threads      uint8
	salt, key    []byte
}

func parsePHC(phc string) (*argonParams, error) {
	bad := func(why string) error { return fmt.Errorf("%w: %s", ErrMalformedHash, why) }

	// The leading "$" yields an empty first field.
	parts := strings.Split(phc, "$")
	if len(parts) != 6 || parts[0] != "" {
		return nil, bad("expected 5 $-separated fields")
	}
	if parts[1] != "argon2id" {
		return nil, bad("unsupported algorithm " + strconv.Quote(parts[1]))
	}
	if parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return nil, bad("unsupported version " + strconv.Quote(parts[2]))
	}

	var p argonParams
	var haveM, haveT, haveP bool
	for kv := range strings.SplitSeq(parts[3], ",") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return nil, bad("parameter " + strconv.Quote(kv))
		}
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil {
			return nil, bad("parameter " + strconv.Quote(kv))
		}
		switch {
		case k == "m" && !haveM:
			p.memory, haveM = uint32(n), true
		case k == "t" && !haveT:
			p.time, haveT = uint32(n), true
		case k == "p" && !haveP:
			if n > 255 {
				return nil, bad("parallelism out of range")
			}
			p.threads, haveP = uint8(n), true
		default:
			return nil, bad("unexpected parameter " + strconv.Quote(k))
		}
	}
	switch {
	case !haveM || !haveT || !haveP:
		return nil, bad("missing m, t or p")
	case p.time < 1 || p.time > maxArgonTime:
		return nil, bad("time cost out of range")
	case p.threads < 1:
		return nil, bad("parallelism out of range")
	case p.memory < 8*uint32(p.threads) || p.memory > maxArgonMemoryKiB:
		return nil, bad("memory cost out of range")
	}

	var err error
	if p.salt, err = b64.DecodeString(parts[4]); err != nil || len(p.salt) < 8 {
		return nil, bad("salt")
	}
	if p.key, err = b64.DecodeString(parts[5]); err != nil || len(p.key) < 16 || len(p.key) > maxArgonKeyLen {
		return nil, bad("hash")
	}
	return &p, nil
}

// passwordAlphabet leaves out characters that are easily confused when read
// aloud or off a screen: 0/O/o, 1/l/I.
const passwordAlphabet = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"

// GeneratePassword returns n random characters from an unambiguous alphabet,
// for demo credentials and technical users. n < 1 means 16.
func GeneratePassword(n int) string {
	if n < 1 {
		n = 16
	}
	// Rejection sampling: bytes at or above limit are discarded so that every
	// character is equally likely (256 is not a multiple of the alphabet).
	const limit = 256 - 256%len(passwordAlphabet)
	out := make([]byte, 0, n)
	buf := make([]byte, n+n/2)
	for len(out) < n {
		_, _ = rand.Read(buf) // never fails, see HashPassword
		for _, b := range buf {
			if int(b) < limit && len(out) < n {
				out = append(out, passwordAlphabet[int(b)%len(passwordAlphabet)])
			}
		}
	}
	return string(out)
}

// NewOpaqueToken returns a 256-bit random token for the client and the hash
// to store. Only the hash is persisted, so a leaked database does not yield
// usable tokens; a fast hash suffices because the token has full entropy.
func NewOpaqueToken() (token string, hash string) {
	raw := make([]byte, 32)
	_, _ = rand.Read(raw) // never fails, see HashPassword
	token = base64.RawURLEncoding.EncodeToString(raw)
	return token, HashToken(token)
}

// HashToken returns the hex SHA-256 of token, the form stored for lookup.
func HashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}
