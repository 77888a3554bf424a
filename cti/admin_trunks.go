package cti

import (
	"context"
	"net"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Trunk is a SIP trunk: the carrier connection calls come in on and go
// out through. Trunks serve every tenant of the install, so only
// super-admins manage them. The first trunk (oldest) carries outbound
// calls.
type Trunk struct {
	ID        string
	Name      string
	Address   string // host[:port] of the carrier
	Transport string // udp or tcp
	// AllowFrom are the IPs or CIDRs INVITEs are accepted from (empty:
	// the addresses Address resolves to).
	AllowFrom []string
	Username  string
	Password  string // for digest auth; never shown again
	Domain    string
	Register  bool
	CallerID  string
	// InDialogTarget is where BYE and re-INVITEs go: "auto" (default),
	// "contact" or "source" (a trunk behind NAT; docs/sip.md, "NAT").
	InDialogTarget string
	// EarlyMedia is "oneway" (default: the agent is not heard before the
	// answer) or "twoway" (carriers that need our RTP during early media).
	EarlyMedia string
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// TrunkApplier is the voice path's side of trunk changes: it takes the
// whole list and applies it to the next INVITE, or refuses it unchanged.
type TrunkApplier interface {
	ApplyTrunks(ctx context.Context, trunks []Trunk) error
}

// TrunkStore persists trunks (install-wide, no tenant).
type TrunkStore interface {
	ListTrunks(ctx context.Context) ([]Trunk, error)
	GetTrunk(ctx context.Context, id string) (*Trunk, error)
	CreateTrunk(ctx context.Context, t *Trunk) error
	UpdateTrunk(ctx context.Context, t *Trunk) error
	DeleteTrunk(ctx context.Context, id string) error
}

var trunkNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$`)

// SetTrunkApplier connects the voice path; without one trunk changes are
// stored and apply at the next start.
func (s *Service) SetTrunkApplier(a TrunkApplier) { s.trunkApplier = a }

func checkTrunk(t *Trunk) error {
	var f fieldErrors
	t.Name, t.Address = strings.TrimSpace(t.Name), strings.TrimSpace(t.Address)
	if !trunkNameRE.MatchString(t.Name) {
		f.add("name", "1–32 letters, digits or . _ -")
	}
	host, port, err := net.SplitHostPort(t.Address)
	if err != nil {
		host, port = t.Address, "5060"
	}
	if n, perr := strconv.Atoi(port); host == "" || strings.ContainsAny(host, " /@;") || perr != nil || n < 1 || n > 65535 {
		f.add("address", "want host or host:port of the carrier's SIP server")
	}
	switch t.Transport = strings.ToLower(t.Transport); t.Transport {
	case "":
		t.Transport = "udp"
	case "udp", "tcp":
	default:
		f.add("transport", "want udp or tcp")
	}
	for _, a := range t.AllowFrom {
		if _, err := netip.ParsePrefix(a); err != nil {
			if _, err := netip.ParseAddr(a); err != nil {
				f.add("allowFrom", "%q is neither an IP address nor a CIDR", a)
			}
		}
	}
	if t.CallerID != "" && normalizeNumber(t.CallerID) == "" {
		f.add("callerId", "want a phone number")
	}
	switch t.InDialogTarget = strings.ToLower(strings.TrimSpace(t.InDialogTarget)); t.InDialogTarget {
	case "":
		t.InDialogTarget = "auto"
	case "auto", "contact", "source":
	default:
		f.add("inDialogTarget", "want auto, contact or source")
	}
	switch t.EarlyMedia = strings.ToLower(strings.TrimSpace(t.EarlyMedia)); t.EarlyMedia {
	case "":
		t.EarlyMedia = "oneway"
	case "oneway", "twoway":
	default:
		f.add("earlyMedia", "want oneway or twoway")
	}
	if t.Register && t.Username == "" {
		f.add("username", "registration needs a username")
	}
	return f.err()
}

// ListTrunks lists the trunks, the outbound one first. Super-admins only.
func (s *Service) ListTrunks(ctx context.Context, p Principal) ([]Trunk, error) {
	if err := requireSuper(p, "manage trunks"); err != nil {
		return nil, err
	}
	return s.store.ListTrunks(ctx)
}

// GetTrunk returns one trunk. Super-admins only.
func (s *Service) GetTrunk(ctx context.Context, p Principal, id string) (*Trunk, error) {
	if err := requireSuper(p, "manage trunks"); err != nil {
		return nil, err
	}
	return s.store.GetTrunk(ctx, id)
}

// CreateTrunk adds a trunk; the next INVITE sees it.
func (s *Service) CreateTrunk(ctx context.Context, p Principal, t Trunk) (*Trunk, error) {
	if err := requireSuper(p, "manage trunks"); err != nil {
		return nil, err
	}
	if err := checkTrunk(&t); err != nil {
		return nil, err
	}
	t.ID = ""
	if err := s.store.CreateTrunk(ctx, &t); err != nil {
		return nil, err
	}
	if err := s.applyTrunks(ctx); err != nil {
		_ = s.store.DeleteTrunk(context.WithoutCancel(ctx), t.ID)
		return nil, err
	}
	s.audit(ctx, p, p.TenantID, "trunk.create", t.ID, map[string]any{"name": t.Name, "address": t.Address})
	return &t, nil
}

// UpdateTrunk replaces a trunk's settings; keepPassword keeps the stored
// password when none is given.
func (s *Service) UpdateTrunk(ctx context.Context, p Principal, id string, t Trunk, keepPassword bool) (*Trunk, error) {
	if err := requireSuper(p, "manage trunks"); err != nil {
		return nil, err
	}
	old, err := s.store.GetTrunk(ctx, id)
	if err != nil {
		return nil, err
	}
	if keepPassword {
		t.Password = old.Password
	}
	if err := checkTrunk(&t); err != nil {
		return nil, err
	}
	t.ID, t.CreatedAt = id, old.CreatedAt
	if err := s.store.UpdateTrunk(ctx, &t); err != nil {
		return nil, err
	}
	if err := s.applyTrunks(ctx); err != nil {
		_ = s.store.UpdateTrunk(context.WithoutCancel(ctx), old)
		return nil, err
	}
	s.audit(ctx, p, p.TenantID, "trunk.update", id, map[string]any{"name": t.Name, "address": t.Address})
	return &t, nil
}

// DeleteTrunk removes a trunk: its INVITEs are refused from the next one.
func (s *Service) DeleteTrunk(ctx context.Context, p Principal, id string) error {
	if err := requireSuper(p, "manage trunks"); err != nil {
		return err
	}
	old, err := s.store.GetTrunk(ctx, id)
	if err != nil {
		return err
	}
	if err := s.store.DeleteTrunk(ctx, id); err != nil {
		return err
	}
	if err := s.applyTrunks(ctx); err != nil {
		_ = s.store.CreateTrunk(context.WithoutCancel(ctx), old)
		return err
	}
	s.audit(ctx, p, p.TenantID, "trunk.delete", id, map[string]any{"name": old.Name})
	return nil
}

// applyTrunks hands the stored list to the voice path.
func (s *Service) applyTrunks(ctx context.Context) error {
	if s.trunkApplier == nil {
		return nil
	}
	all, err := s.store.ListTrunks(ctx)
	if err != nil {
		return err
	}
	if err := s.trunkApplier.ApplyTrunks(ctx, all); err != nil {
		return &Error{Kind: KindInvalid, Message: "the trunks cannot be used: " + err.Error(), Err: err}
	}
	return nil
}
