package cti

import (
	"context"
	"crypto/subtle"
	"strings"
	"time"
)

// APIKeyPrefix starts every API key, so keys are recognisable in configs
// and secret scanners: rbk_<id>_<secret>.
const APIKeyPrefix = "rbk_"

// APIKey is a credential of a technical user for integrations (CRMs).
// Only the hash of its secret is stored.
type APIKey struct {
	ID         string // public part of the key, "k…"
	TenantID   string
	UserID     string
	Name       string // what the admin called it ("hubspot-prod")
	Hash       string // HashToken of the whole key
	CreatedAt  time.Time
	LastUsedAt time.Time
}

// APIKeyStore persists API keys.
type APIKeyStore interface {
	// CreateAPIKey stores k; k.ID is set by the caller (it is part of
	// the key).
	CreateAPIKey(ctx context.Context, k *APIKey) error
	// GetAPIKey finds a key by its id in any tenant: the key itself says
	// which tenant it belongs to. KindNotFound when there is none.
	GetAPIKey(ctx context.Context, id string) (*APIKey, error)
	ListAPIKeys(ctx context.Context, tenantID string) ([]APIKey, error)
	DeleteAPIKey(ctx context.Context, tenantID, id string) error
	// TouchAPIKey records that the key was used (best effort).
	TouchAPIKey(ctx context.Context, id string, at time.Time) error
}

// NewAPIKeyRequest asks for a key. Without UserID a technical user (role
// api) named Name is created for it, with a generated password for HTTP
// Basic authentication.
type NewAPIKeyRequest struct {
	Name   string
	UserID string
}

// NewAPIKey is a created key: Key and Password are shown exactly once.
type NewAPIKey struct {
	APIKey
	Key      string
	User     User
	Password string // set when a technical user was created with the key
}

// errBadAPIKey is the one answer to every refused key.
var errBadAPIKey = Errorf(KindUnauthorized, "invalid API key")

// CreateAPIKey creates a key for a technical user of the admin's tenant.
func (s *Service) CreateAPIKey(ctx context.Context, p Principal, req NewAPIKeyRequest) (*NewAPIKey, error) {
	if err := p.require(rolesAdmin, "create API keys"); err != nil {
		return nil, err
	}
	req.Name = strings.TrimSpace(req.Name)
	if req.Name == "" || len(req.Name) > 64 {
		return nil, Errorf(KindInvalid, "name is required (at most 64 characters)")
	}
	out := &NewAPIKey{}
	if req.UserID != "" {
		u, err := s.store.GetUser(ctx, p.TenantID, req.UserID)
		if err != nil {
			return nil, err
		}
		if u.Role != RoleAPI && u.Role != RoleAdmin {
			return nil, Errorf(KindInvalid, "API keys belong to api or admin users, not %s", u.Role)
		}
		out.User = *u
	} else {
		// The name becomes the technical user's login. Logins match a
		// username before an extension, so a user named "1001" would
		// capture the sign-ins of the agent on extension 1001.
		if allDigits(strings.TrimPrefix(req.Name, "+")) {
			return nil, Errorf(KindInvalid, "name must not be a number: it would read as an extension at sign-in")
		}
		if _, err := s.store.GetUserByExtension(ctx, p.TenantID, req.Name); err == nil {
			return nil, Errorf(KindConflict, "name %q is the extension of another user", req.Name)
		} else if ErrorKind(err) != KindNotFound {
			return nil, err
		}
		pw := GeneratePassword(24)
		hash, err := s.hashes.Hash(ctx, pw)
		if err != nil {
			return nil, err
		}
		u := User{TenantID: p.TenantID, Username: req.Name, DisplayName: req.Name, Role: RoleAPI, PasswordHash: hash}
		if err := s.store.CreateUser(ctx, &u); err != nil {
			return nil, err
		}
		out.User, out.Password = u, pw
	}
	id := "k" + strings.ToLower(GeneratePassword(20))
	secret, _ := NewOpaqueToken()
	out.Key = APIKeyPrefix + id + "_" + secret
	out.APIKey = APIKey{ID: id, TenantID: p.TenantID, UserID: out.User.ID, Name: req.Name, Hash: HashToken(out.Key)}
	if err := s.store.CreateAPIKey(ctx, &out.APIKey); err != nil {
		return nil, err
	}
	s.log.Info("API key created", "tenant", p.TenantID, "key", id, "user", out.User.ID, "by", p.UserID)
	s.audit(ctx, p, p.TenantID, "api_key.create", id, map[string]any{"name": req.Name, "user": out.User.ID, "userCreated": out.Password != ""})
	return out, nil
}

// ListAPIKeys lists the keys of the admin's tenant (never their secrets).
func (s *Service) ListAPIKeys(ctx context.Context, p Principal) ([]APIKey, error) {
	if err := p.require(rolesAdmin, "list API keys"); err != nil {
		return nil, err
	}
	return s.store.ListAPIKeys(ctx, p.TenantID)
}

// DeleteAPIKey revokes a key of the admin's tenant.
func (s *Service) DeleteAPIKey(ctx context.Context, p Principal, id string) error {
	if err := p.require(rolesAdmin, "revoke API keys"); err != nil {
		return err
	}
	if err := s.store.DeleteAPIKey(ctx, p.TenantID, id); err != nil {
		return err
	}
	s.audit(ctx, p, p.TenantID, "api_key.delete", id, nil)
	return nil
}

// AuthenticateAPIKey returns the principal a key acts as. Every failure
// is the same KindUnauthorized error, so a caller learns nothing about
// which part was wrong.
func (s *Service) AuthenticateAPIKey(ctx context.Context, key string) (Principal, error) {
	rest, ok := strings.CutPrefix(key, APIKeyPrefix)
	if !ok {
		return Principal{}, errBadAPIKey
	}
	id, secret, ok := strings.Cut(rest, "_")
	if !ok || id == "" || secret == "" || len(key) > 256 {
		return Principal{}, errBadAPIKey
	}
	k, err := s.store.GetAPIKey(ctx, id)
	if err != nil {
		if ErrorKind(err) == KindNotFound {
			return Principal{}, errBadAPIKey
		}
		return Principal{}, err
	}
	if subtle.ConstantTimeCompare([]byte(HashToken(key)), []byte(k.Hash)) != 1 {
		return Principal{}, errBadAPIKey
	}
	u, err := s.store.GetUser(ctx, k.TenantID, k.UserID)
	if err != nil {
		if ErrorKind(err) == KindNotFound {
			return Principal{}, errBadAPIKey
		}
		return Principal{}, err
	}
	if u.Disabled() {
		return Principal{}, ErrUserDisabled
	}
	if now := time.Now(); now.Sub(k.LastUsedAt) > time.Minute {
		// Bounded write rate: at most one per key per minute.
		if err := s.store.TouchAPIKey(ctx, k.ID, now); err != nil {
			s.log.Debug("recording API key use", "key", k.ID, "err", err)
		}
	}
	return Principal{TenantID: u.TenantID, UserID: u.ID, Username: u.Username, Extension: u.Extension, Role: u.Role,
		TokenEpoch: u.TokenEpoch}, nil
}
