package cti

import (
	"context"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// CallUpdate is what a CRM (two-way sync) or an agent sets on a call
// afterwards; nil fields are left as they are.
type CallUpdate struct {
	Disposition *string
	Notes       *string
	Tags        *[]string
}

// Limits of a call update.
const (
	maxDispositionLen = 64
	maxCallNotesLen   = 4000
	maxTags           = 20
	maxTagLen         = 64
)

// Apply sets the update's fields on a record.
func (u CallUpdate) Apply(r *CallRecord) {
	if u.Disposition != nil {
		r.Disposition = *u.Disposition
	}
	if u.Notes != nil {
		r.Notes = *u.Notes
	}
	if u.Tags != nil {
		r.Tags = slices.Clone(*u.Tags)
	}
}

// clean trims and validates the update in place.
func (u *CallUpdate) clean() error {
	if u.Disposition == nil && u.Notes == nil && u.Tags == nil {
		return Errorf(KindInvalid, "nothing to update: set disposition, notes or tags")
	}
	if u.Disposition != nil {
		d := strings.TrimSpace(*u.Disposition)
		if utf8.RuneCountInString(d) > maxDispositionLen {
			return Errorf(KindInvalid, "disposition is longer than %d characters", maxDispositionLen)
		}
		u.Disposition = &d
	}
	if u.Notes != nil && utf8.RuneCountInString(*u.Notes) > maxCallNotesLen {
		return Errorf(KindInvalid, "notes are longer than %d characters", maxCallNotesLen)
	}
	if u.Tags != nil {
		if len(*u.Tags) > maxTags {
			return Errorf(KindInvalid, "at most %d tags", maxTags)
		}
		tags := make([]string, 0, len(*u.Tags))
		for _, t := range *u.Tags {
			t = strings.TrimSpace(t)
			if t == "" || utf8.RuneCountInString(t) > maxTagLen {
				return Errorf(KindInvalid, "tags must be 1 to %d characters", maxTagLen)
			}
			if !slices.Contains(tags, t) {
				tags = append(tags, t)
			}
		}
		u.Tags = &tags
	}
	return nil
}

// GetCall returns a call's record: live calls as they stand, ended ones
// from the store. Agents see only calls they took part in.
func (s *Service) GetCall(ctx context.Context, p Principal, id string) (*CallRecord, error) {
	if err := p.require(rolesReadPhonebook, "read calls"); err != nil {
		return nil, err
	}
	var rec *CallRecord
	if c := s.liveCall(p.TenantID, id); c != nil {
		r := c.Record()
		rec = &r
	} else {
		r, err := s.store.GetCallRecord(ctx, p.TenantID, id)
		if err != nil {
			return nil, err
		}
		rec = r
	}
	if !canSeeCall(p, rec) {
		return nil, Errorf(KindNotFound, "no call %s", id)
	}
	return rec, nil
}

// ListCalls returns a page of the tenant's finished calls, newest first.
// Agents see only their own.
func (s *Service) ListCalls(ctx context.Context, p Principal, f CallFilter, page Page) ([]CallRecord, string, error) {
	if err := p.require(rolesReadAll, "list the tenant's calls"); err != nil {
		return nil, "", err
	}
	if !f.From.IsZero() && !f.To.IsZero() && !f.From.Before(f.To) {
		return nil, "", Errorf(KindInvalid, "from must be before to")
	}
	return s.store.ListCallRecords(ctx, p.TenantID, f, page.Normalized())
}

// UpdateCall sets a call's disposition, notes or tags (two-way sync) and
// publishes call.updated with the whole record. Integrations may update
// any call of their tenant, agents the calls they took part in.
func (s *Service) UpdateCall(ctx context.Context, p Principal, id string, u CallUpdate) (*CallRecord, error) {
	if err := p.require(rolesReadPhonebook, "update calls"); err != nil {
		return nil, err
	}
	if err := u.clean(); err != nil {
		return nil, err
	}
	if c := s.liveCall(p.TenantID, id); c != nil {
		if rec, ok, err := c.update(p, u); ok || err != nil {
			if err != nil {
				return nil, err
			}
			if err := s.publish(EventCallUpdated, rec.TenantID, rec.ID, rec); err != nil {
				return nil, err
			}
			return rec, nil
		}
		// The call is being torn down; its record goes to the store.
		select {
		case <-c.saved:
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(10 * time.Second):
			return nil, Errorf(KindUnavailable, "call %s is still being stored; retry", id)
		}
	}
	cur, err := s.store.GetCallRecord(ctx, p.TenantID, id)
	if err != nil {
		return nil, err
	}
	if !canSeeCall(p, cur) {
		return nil, Errorf(KindNotFound, "no call %s", id)
	}
	rec, err := s.store.UpdateCallRecord(ctx, p.TenantID, id, u)
	if err != nil {
		return nil, err
	}
	if err := s.publish(EventCallUpdated, rec.TenantID, rec.ID, rec); err != nil {
		return nil, err
	}
	return rec, nil
}

// update applies u to a live call's history. ok is false once the call's
// record is final (the caller then updates the stored record).
func (c *Call) update(p Principal, u CallUpdate) (*CallRecord, bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.hist.final {
		return nil, false, nil
	}
	rec := c.recordLocked(time.Now().UTC())
	if !canSeeCall(p, &rec) {
		return nil, false, Errorf(KindNotFound, "no call %s", c.info.ID)
	}
	if u.Disposition != nil {
		c.hist.disposition = *u.Disposition
	}
	if u.Notes != nil {
		c.hist.notes = *u.Notes
	}
	if u.Tags != nil {
		c.hist.tags = slices.Clone(*u.Tags)
	}
	u.Apply(&rec)
	return &rec, true, nil
}

// liveCall returns a call in progress of the tenant.
func (s *Service) liveCall(tenantID, id string) *Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c := s.calls[id]; c != nil && c.info.TenantID == tenantID {
		return c
	}
	return nil
}

// canSeeCall: the tenant's integrations and supervisors see every call,
// agents the calls they took part in.
func canSeeCall(p Principal, r *CallRecord) bool {
	if r.TenantID != p.TenantID {
		return false
	}
	if p.Role != RoleAgent {
		return true
	}
	for _, a := range r.Agents {
		if a.UserID == p.UserID || (p.Extension != "" && a.Extension == p.Extension) {
			return true
		}
	}
	return false
}
