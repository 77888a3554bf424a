package cti

import "context"

// What the edge's authentication needs from the store, as the core's own
// methods: the edge never reaches the store itself. Each is scoped to the
// tenant it is given.

// FindUserByLogin finds a user by username or extension within a tenant.
func (s *Service) FindUserByLogin(ctx context.Context, tenantID, login string) (*User, error) {
	return s.store.FindUserByLogin(ctx, tenantID, login)
}

// UserByID returns a tenant's user.
func (s *Service) UserByID(ctx context.Context, tenantID, userID string) (*User, error) {
	return s.store.GetUser(ctx, tenantID, userID)
}

// CreateRefreshToken stores a new refresh token (its hash).
func (s *Service) CreateRefreshToken(ctx context.Context, t *RefreshToken) error {
	return s.store.CreateRefreshToken(ctx, t)
}

// ConsumeRefreshToken uses up a refresh token: deleted and returned, so
// each is usable once.
func (s *Service) ConsumeRefreshToken(ctx context.Context, tenantID, hash string) (*RefreshToken, error) {
	return s.store.ConsumeRefreshToken(ctx, tenantID, hash)
}

// RevokeRefreshFamily revokes the chain a refresh token belongs to.
func (s *Service) RevokeRefreshFamily(ctx context.Context, tenantID, hash string) error {
	return s.store.RevokeRefreshFamily(ctx, tenantID, hash)
}
