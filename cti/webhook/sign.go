package webhook

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
)

// secretPrefix marks a Standard Webhooks signing secret.
const secretPrefix = "whsec_"

// secretLen is the key size in bytes: the spec asks for 24 to 64.
const secretLen = 32

// NewSecret returns a fresh signing secret, "whsec_" and 32 random bytes
// in standard base64.
func NewSecret() string {
	b := make([]byte, secretLen)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go ≥ 1.24)
	return secretPrefix + base64.StdEncoding.EncodeToString(b)
}

// secretKey decodes the HMAC key from a "whsec_…" secret.
func secretKey(secret string) ([]byte, error) {
	s, ok := strings.CutPrefix(secret, secretPrefix)
	if !ok {
		return nil, errors.New("webhook secret: missing whsec_ prefix")
	}
	key, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, errors.New("webhook secret: not base64")
	}
	return key, nil
}

// signer computes Standard Webhooks signatures with one key.
type signer struct{ key []byte }

func newSigner(secret string) (signer, error) {
	key, err := secretKey(secret)
	return signer{key: key}, err
}

// sign returns the webhook-signature header value for a message: "v1,"
// and the base64 HMAC-SHA256 of "id.timestamp.payload".
func (s signer) sign(id string, ts int64, payload []byte) string {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte(id))
	m.Write([]byte{'.'})
	m.Write(strconv.AppendInt(nil, ts, 10))
	m.Write([]byte{'.'})
	m.Write(payload)
	return "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// maskSecret shows the prefix and the last four characters of a secret,
// enough for an administrator to tell two apart.
func maskSecret(s string) string {
	if len(s) <= len(secretPrefix)+4 {
		return secretPrefix + "…"
	}
	return secretPrefix + "…" + s[len(s)-4:]
}

// MaskedSecret is the secret as the API shows it after creation.
func (e *Endpoint) MaskedSecret() string { return maskSecret(e.Secret) }
