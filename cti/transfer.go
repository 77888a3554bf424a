package cti

// EndTransferred is the reason a call ends for the agent who transferred it.
const EndTransferred EndReason = "transferred"

// transferTarget checks a blind-transfer destination before the agent is
// let go: an available extension of the tenant, or a number within the
// tenant's dialing rules.
func (s *Service) transferTarget(tenantID, to string, from *agent) (*agent, string, error) {
	num := normalizeNumber(to)
	if num == "" {
		return nil, "", Errorf(KindInvalid, "%q is not a phone number or extension", to)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	target, isExt := s.internalTargetLocked(tenantID, num)
	if !isExt {
		return nil, num, s.checkDialRule(tenantID, num)
	}
	switch {
	case target == from:
		return nil, "", Errorf(KindInvalid, "cannot transfer to yourself")
	case target == nil || target.session == nil || !target.session.reachable():
		return nil, "", Errorf(KindUnavailable, "extension %s is offline", num)
	case target.call != nil:
		return nil, "", Errorf(KindBusy, "extension %s is busy", num)
	case target.status != StatusAvailable:
		return nil, "", Errorf(KindUnavailable, "extension %s is %s", num, target.status)
	}
	return target, num, nil
}
