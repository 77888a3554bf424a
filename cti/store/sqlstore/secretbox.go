package sqlstore

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

// Secrets that must be recoverable (a tenant's CRM API key and password,
// sent to the CRM on every lookup) are encrypted at rest with AES-256-GCM
// under a key kept outside the database (DataDir/secrets.key, see
// docs/admin.md), so a copy of the database file alone — a backup, a
// support dump — does not reveal them. The tenant id is the additional
// data, so a ciphertext moved to another tenant's row does not decrypt.

const secretPrefix = "enc1:"

// SetSecretKey makes the store encrypt recoverable secrets with key (32
// bytes). Call it right after Open, before the store is shared. Secrets
// written without a key stay readable and are encrypted on their next
// write.
func (s *Store) SetSecretKey(key []byte) error {
	if len(key) != 32 {
		return fmt.Errorf("store: secret key must be 32 bytes, got %d", len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return fmt.Errorf("store: secret key: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return fmt.Errorf("store: secret key: %w", err)
	}
	s.aead = aead
	return nil
}

func (s *Store) sealSecret(tenantID, plain string) string {
	if plain == "" || s.aead == nil {
		return plain
	}
	nonce := make([]byte, s.aead.NonceSize())
	_, _ = rand.Read(nonce)
	ct := s.aead.Seal(nonce, nonce, []byte(plain), []byte(tenantID))
	return secretPrefix + base64.RawStdEncoding.EncodeToString(ct)
}

var errNoSecretKey = errors.New("store: an encrypted secret was found but no secret key is set (is DataDir/secrets.key missing?)")

func (s *Store) openSecret(tenantID, stored string) (string, error) {
	rest, ok := strings.CutPrefix(stored, secretPrefix)
	if !ok {
		return stored, nil
	}
	if s.aead == nil {
		return "", errNoSecretKey
	}
	ct, err := base64.RawStdEncoding.DecodeString(rest)
	if err != nil || len(ct) < s.aead.NonceSize() {
		return "", errors.New("store: malformed encrypted secret")
	}
	n := s.aead.NonceSize()
	plain, err := s.aead.Open(nil, ct[:n], ct[n:], []byte(tenantID))
	if err != nil {
		return "", fmt.Errorf("store: decrypting a secret of tenant %s (wrong secrets.key?): %w", tenantID, err)
	}
	return string(plain), nil
}
