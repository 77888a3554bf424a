package cti

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"
)

// Contact is a phonebook entry: the embedded default source of screen-pop
// cards, looked up by any of its numbers.
type Contact struct {
	ID       string
	TenantID string
	Name     string
	Company  string
	Tier     string
	Notes    string
	URL      string   // a link to the customer in the CRM (http or https)
	Numbers  []string // E.164, at least one
	Fields   map[string]string
	// CreatedAt and UpdatedAt are set by the store.
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Card is the contact as the agent's screen pop shows it.
func (c *Contact) Card() *Card {
	return &Card{Name: c.Name, Company: c.Company, Tier: c.Tier, Notes: c.Notes, URL: c.URL, Fields: c.Fields}
}

// Page asks for one page of a list: at most Limit items after Cursor
// (opaque, from the previous page's NextCursor; "" for the first page).
type Page struct {
	Limit  int
	Cursor string
}

// Limits of a page of a list.
const (
	DefaultPageLimit = 50
	MaxPageLimit     = 500
)

// Normalized returns p with its limit clamped to 1..MaxPageLimit.
func (p Page) Normalized() Page {
	switch {
	case p.Limit <= 0:
		p.Limit = DefaultPageLimit
	case p.Limit > MaxPageLimit:
		p.Limit = MaxPageLimit
	}
	return p
}

// PhonebookStore persists contacts, scoped to a tenant everywhere.
type PhonebookStore interface {
	// CreateContact assigns c.ID, CreatedAt and UpdatedAt.
	CreateContact(ctx context.Context, c *Contact) error
	GetContact(ctx context.Context, tenantID, id string) (*Contact, error)
	// UpdateContact replaces the contact (and its numbers) with c.
	UpdateContact(ctx context.Context, c *Contact) error
	DeleteContact(ctx context.Context, tenantID, id string) error
	// ListContacts returns a page ordered by name, and the cursor of the
	// next page ("" on the last).
	ListContacts(ctx context.Context, tenantID string, page Page) ([]Contact, string, error)
	// FindContactByNumber returns the most recently updated contact with
	// the E.164 number, or a KindNotFound error.
	FindContactByNumber(ctx context.Context, tenantID, e164 string) (*Contact, error)
}

// Limits on what a contact or card may hold, so a CRM or an API client
// cannot fill agents' screens or our database without bound.
const (
	maxNameLen    = 200
	maxNotesLen   = 4000
	maxURLLen     = 2000
	maxNumbers    = 20
	maxFields     = 50
	maxFieldKey   = 64
	maxFieldValue = 1000
)

// ListContacts returns a page of the principal's tenant's phonebook.
func (s *Service) ListContacts(ctx context.Context, p Principal, page Page) ([]Contact, string, error) {
	if err := p.require(rolesReadPhonebook, "read the phonebook"); err != nil {
		return nil, "", err
	}
	return s.store.ListContacts(ctx, p.TenantID, page.Normalized())
}

// GetContact returns one contact of the principal's tenant.
func (s *Service) GetContact(ctx context.Context, p Principal, id string) (*Contact, error) {
	if err := p.require(rolesReadPhonebook, "read the phonebook"); err != nil {
		return nil, err
	}
	return s.store.GetContact(ctx, p.TenantID, id)
}

// FindContact looks a number up in the principal's tenant's phonebook.
func (s *Service) FindContact(ctx context.Context, p Principal, number string) (*Contact, error) {
	if err := p.require(rolesReadPhonebook, "read the phonebook"); err != nil {
		return nil, err
	}
	n, err := NormalizeE164(number, s.tenant(p.TenantID).DefaultRegion)
	if err != nil {
		return nil, err
	}
	return s.store.FindContactByNumber(ctx, p.TenantID, n)
}

// CreateContact validates, normalises and stores a new contact.
func (s *Service) CreateContact(ctx context.Context, p Principal, c Contact) (*Contact, error) {
	if err := p.require(rolesIntegrate, "edit the phonebook"); err != nil {
		return nil, err
	}
	c.ID, c.TenantID = "", p.TenantID
	if err := s.cleanContact(&c); err != nil {
		return nil, err
	}
	if err := s.store.CreateContact(ctx, &c); err != nil {
		return nil, err
	}
	return &c, nil
}

// UpdateContact replaces a contact of the principal's tenant.
func (s *Service) UpdateContact(ctx context.Context, p Principal, c Contact) (*Contact, error) {
	if err := p.require(rolesIntegrate, "edit the phonebook"); err != nil {
		return nil, err
	}
	c.TenantID = p.TenantID
	if err := s.cleanContact(&c); err != nil {
		return nil, err
	}
	if err := s.store.UpdateContact(ctx, &c); err != nil {
		return nil, err
	}
	return s.store.GetContact(ctx, p.TenantID, c.ID)
}

// DeleteContact removes a contact of the principal's tenant.
func (s *Service) DeleteContact(ctx context.Context, p Principal, id string) error {
	if err := p.require(rolesIntegrate, "edit the phonebook"); err != nil {
		return err
	}
	return s.store.DeleteContact(ctx, p.TenantID, id)
}

// cleanContact trims, validates and normalises a contact in place.
func (s *Service) cleanContact(c *Contact) error {
	c.Name, c.Company, c.Tier = strings.TrimSpace(c.Name), strings.TrimSpace(c.Company), strings.TrimSpace(c.Tier)
	c.URL = strings.TrimSpace(c.URL)
	if c.Name == "" {
		return Errorf(KindInvalid, "name is required")
	}
	if len(c.Numbers) == 0 {
		return Errorf(KindInvalid, "at least one number is required")
	}
	if len(c.Numbers) > maxNumbers {
		return Errorf(KindInvalid, "at most %d numbers per contact", maxNumbers)
	}
	region := s.tenant(c.TenantID).DefaultRegion
	seen := map[string]bool{}
	nums := make([]string, 0, len(c.Numbers))
	for _, raw := range c.Numbers {
		n, err := NormalizeE164(raw, region)
		if err != nil {
			return err
		}
		if !seen[n] {
			seen[n] = true
			nums = append(nums, n)
		}
	}
	c.Numbers = nums
	card := Card{Name: c.Name, Company: c.Company, Tier: c.Tier, Notes: c.Notes, URL: c.URL, Fields: c.Fields}
	if err := card.Validate(); err != nil {
		return err
	}
	return nil
}

// Validate checks a card's sizes and that its link is a web address, so
// that neither a CRM nor an API client can put a javascript: link or
// megabytes of text on an agent's screen.
func (c *Card) Validate() error {
	for name, v := range map[string]string{"name": c.Name, "company": c.Company, "tier": c.Tier} {
		if utf8.RuneCountInString(v) > maxNameLen {
			return Errorf(KindInvalid, "%s is longer than %d characters", name, maxNameLen)
		}
	}
	if utf8.RuneCountInString(c.Notes) > maxNotesLen {
		return Errorf(KindInvalid, "notes are longer than %d characters", maxNotesLen)
	}
	if c.URL != "" {
		if len(c.URL) > maxURLLen {
			return Errorf(KindInvalid, "url is longer than %d characters", maxURLLen)
		}
		u, err := url.Parse(c.URL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return Errorf(KindInvalid, "url must be an absolute http or https address")
		}
	}
	if len(c.Fields) > maxFields {
		return Errorf(KindInvalid, "at most %d custom fields", maxFields)
	}
	for k, v := range c.Fields {
		if k == "" || len(k) > maxFieldKey {
			return Errorf(KindInvalid, "field names must be 1 to %d characters", maxFieldKey)
		}
		if utf8.RuneCountInString(v) > maxFieldValue {
			return Errorf(KindInvalid, "field %q is longer than %d characters", k, maxFieldValue)
		}
	}
	return nil
}

// phonebookCard looks the number up in the tenant's phonebook. A miss or
// a failure is nil: screen pop is best effort and must never hold a call.
func (s *Service) phonebookCard(ctx context.Context, tenantID, number string) *Card {
	if number == "" || s.store == nil {
		return nil
	}
	c, err := s.store.FindContactByNumber(ctx, tenantID, number)
	if err != nil {
		if ErrorKind(err) != KindNotFound {
			s.log.Warn("phonebook lookup failed", "tenant", tenantID, "err", err)
		}
		return nil
	}
	return c.Card()
}

// String names the contact in logs without its personal data.
func (c *Contact) String() string { return fmt.Sprintf("contact %s", c.ID) }
