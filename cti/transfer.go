package cti

import "context"

// EndTransferred is the reason a call ends for the agent who transferred it.
const EndTransferred EndReason = "transferred"

// transferTarget checks a blind-transfer (or consultation) destination
// before the agent is let go: an available extension of the tenant, an
// extension signed in on another node (via: dial it there, cluster.go),
// or a number within the tenant's dialing rules.
func (s *Service) transferTarget(ctx context.Context, tenantID, to string, from *agent) (*agent, string, *RedirectError, error) {
	num := normalizeNumber(to)
	if num == "" {
		return nil, "", nil, Errorf(KindInvalid, "%q is not a phone number or extension", to)
	}
	s.mu.Lock()
	target, isExt := s.internalTargetLocked(tenantID, num)
	var err error
	switch {
	case !isExt:
		err = s.checkDialRule(tenantID, num)
		s.mu.Unlock()
		return nil, num, nil, err
	case target == from:
		err = Errorf(KindInvalid, "cannot transfer to yourself")
	case target == nil || target.session == nil || !target.session.reachable():
		s.mu.Unlock()
		if r := s.redirectFor(ctx, tenantID, num, routeTarget{ext: num, label: "transfer:" + from.ext}); r != nil {
			if via, ok := r.(*RedirectError); ok {
				return nil, num, via, nil
			}
		}
		return nil, "", nil, Errorf(KindUnavailable, "extension %s is offline", num)
	case target.call != nil:
		err = Errorf(KindBusy, "extension %s is busy", num)
	case target.status != StatusAvailable:
		err = Errorf(KindUnavailable, "extension %s is %s", num, target.status)
	}
	s.mu.Unlock()
	if err != nil {
		return nil, "", nil, err
	}
	return target, num, nil, nil
}

// viaNode points a dial at another node's extension (nil: the trunk).
func (r DialRequest) viaNode(via *RedirectError) DialRequest {
	if via != nil {
		r.Node, r.Handover = via.Host, via.Token
	}
	return r
}
