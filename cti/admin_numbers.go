package cti

import (
	"context"
	"strings"
)

// NumberInput is a number to create, or the new state of one.
type NumberInput struct {
	Number    string
	Route     RouteKind
	Extension string
	Target    string
	Label     string
}

// numberKey is how a called number is matched: digits (and * #) without
// a leading "+", so "+15550001001" and "15550001001" are the same DID.
func numberKey(n string) string { return strings.TrimPrefix(normalizeNumber(n), "+") }

func (s *Service) checkNumber(ctx context.Context, tenantID string, in *NumberInput) error {
	var f fieldErrors
	in.Number = normalizeNumber(in.Number)
	if k := numberKey(in.Number); len(k) < 2 || len(k) > 16 {
		f.add("number", "want a phone number (E.164 such as +3612345678) or a 2–16 digit internal number")
	}
	in.Extension = strings.TrimSpace(in.Extension)
	in.Target = strings.TrimSpace(in.Target)
	in.Label = strings.TrimSpace(in.Label)
	if in.Route == "" || in.Route == RouteStatic {
		in.Route = RouteExtension
	}
	switch in.Route {
	case RouteExtension, RouteCRM:
	case RouteQueue, RouteIVR:
		if in.Target == "" {
			f.add("target", "name the %s", in.Route)
		} else if in.Route == RouteQueue {
			if _, err := s.store.QueueByName(ctx, tenantID, in.Target); ErrorKind(err) == KindNotFound {
				f.add("target", "no queue %q in this tenant", in.Target)
			} else if err != nil {
				return err
			}
		}
	default:
		f.add("route", "must be extension, crm, queue or ivr")
	}
	switch {
	case in.Extension == "":
		if in.Route == RouteExtension {
			f.add("extension", "required: the extension this number rings")
		} else {
			f.add("extension", "required: the fallback extension when the %s gives no usable answer", in.Route)
		}
	case !extensionRE.MatchString(in.Extension):
		f.add("extension", "must be 2–6 digits")
	default:
		if _, err := s.store.GetUserByExtension(ctx, tenantID, in.Extension); ErrorKind(err) == KindNotFound {
			f.add("extension", "no user of this tenant has extension %s", in.Extension)
		} else if err != nil {
			return err
		}
	}
	if len(in.Label) > 64 {
		f.add("label", "must be at most 64 characters")
	}
	return f.err()
}

// CreateNumber adds a DID to the admin's tenant; calls to it are routed
// from the next INVITE on.
func (s *Service) CreateNumber(ctx context.Context, p Principal, in NumberInput) (*Number, error) {
	if err := p.require(rolesAdmin, "manage numbers"); err != nil {
		return nil, err
	}
	if err := s.checkNumber(ctx, p.TenantID, &in); err != nil {
		return nil, err
	}
	n := &Number{TenantID: p.TenantID, Number: in.Number, Route: in.Route, Extension: in.Extension, Target: in.Target, Label: in.Label}
	if err := s.store.CreateNumber(ctx, n); err != nil {
		return nil, err
	}
	s.audit(ctx, p, p.TenantID, "number.create", n.ID, map[string]any{"number": n.Number, "route": n.Route, "extension": n.Extension, "target": n.Target})
	return n, nil
}

// GetNumber returns a number of the admin's tenant.
func (s *Service) GetNumber(ctx context.Context, p Principal, id string) (*Number, error) {
	if err := p.require([]Role{RoleAdmin, RoleSupervisor}, "read numbers"); err != nil {
		return nil, err
	}
	return s.store.GetNumber(ctx, p.TenantID, id)
}

// ListNumbers lists the tenant's numbers.
func (s *Service) ListNumbers(ctx context.Context, p Principal) ([]Number, error) {
	if err := p.require([]Role{RoleAdmin, RoleSupervisor}, "read numbers"); err != nil {
		return nil, err
	}
	return s.store.ListNumbers(ctx, p.TenantID)
}

// UpdateNumber replaces a number's routing.
func (s *Service) UpdateNumber(ctx context.Context, p Principal, id string, in NumberInput) (*Number, error) {
	if err := p.require(rolesAdmin, "manage numbers"); err != nil {
		return nil, err
	}
	n, err := s.store.GetNumber(ctx, p.TenantID, id)
	if err != nil {
		return nil, err
	}
	if err := s.checkNumber(ctx, p.TenantID, &in); err != nil {
		return nil, err
	}
	before := *n
	n.Number, n.Route, n.Extension, n.Target, n.Label = in.Number, in.Route, in.Extension, in.Target, in.Label
	if err := s.store.UpdateNumber(ctx, n); err != nil {
		return nil, err
	}
	s.audit(ctx, p, p.TenantID, "number.update", n.ID, map[string]any{
		"before": map[string]any{"number": before.Number, "route": before.Route, "extension": before.Extension, "target": before.Target},
		"after":  map[string]any{"number": n.Number, "route": n.Route, "extension": n.Extension, "target": n.Target}})
	return n, nil
}

// DeleteNumber takes a number out of service: its next call gets 404.
func (s *Service) DeleteNumber(ctx context.Context, p Principal, id string) error {
	if err := p.require(rolesAdmin, "manage numbers"); err != nil {
		return err
	}
	n, err := s.store.GetNumber(ctx, p.TenantID, id)
	if err != nil {
		return err
	}
	if err := s.store.DeleteNumber(ctx, p.TenantID, id); err != nil {
		return err
	}
	s.audit(ctx, p, p.TenantID, "number.delete", id, map[string]any{"number": n.Number})
	return nil
}

// numberRoute finds where a called number goes: the store first (what
// administrators set up), then Config (embedding and tests).
func (s *Service) numberRoute(ctx context.Context, to string) (NumberRoute, bool, error) {
	key := numberKey(to)
	if s.store != nil && key != "" {
		n, err := s.store.FindNumber(ctx, key)
		switch {
		case err == nil:
			r := NumberRoute{TenantID: n.TenantID, Extension: n.Extension, Route: n.Route}
			switch n.Route {
			case RouteQueue:
				r.Queue = n.Target
			case RouteIVR:
				r.Flow = n.Target
			}
			return r, true, nil
		case ErrorKind(err) != KindNotFound:
			s.log.Error("number lookup failed", "to", to, "err", err)
			return NumberRoute{}, false, Errorf(KindUnavailable, "number lookup failed")
		}
	}
	if r, ok := s.cfg.Numbers[to]; ok {
		return r, true, nil
	}
	r, ok := s.cfg.Numbers[key]
	return r, ok, nil
}
