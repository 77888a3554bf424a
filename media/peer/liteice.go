package peer

import (
	"bytes"
	"net"

	"github.com/pion/stun/v4"
)

// stunScratch is a read loop's reusable STUN request and response.
type stunScratch struct {
	req, resp stun.Message
}

// handleSTUN answers a browser's connectivity check (RFC 8445 §7.3) as
// an ICE-lite agent: we never check, the browser (controlling) does, and
// a check that passes our credentials makes its source address a path of
// the session; the one it nominates (USE-CANDIDATE) carries the media.
// Checks with an unknown username or a bad MESSAGE-INTEGRITY get no
// answer: a stranger learns nothing and cannot make us send to a third
// party more than it sent us.
func (n *liteNet) handleSTUN(s *stunScratch, p pathKey, b []byte) {
	m := &s.req
	m.Raw = append(m.Raw[:0], b...)
	if err := m.Decode(); err != nil {
		return
	}
	if m.Type != stun.BindingRequest {
		// Binding indications are keep-alives; nothing else is ours.
		return
	}
	raw, err := m.Get(stun.AttrUsername)
	if err != nil {
		return
	}
	i := bytes.IndexByte(raw, ':')
	if i <= 0 {
		return
	}
	n.mu.RLock()
	cr := n.byUfrag[string(raw[:i])]
	n.mu.RUnlock()
	if cr == nil {
		return
	}
	integrity := stun.NewShortTermIntegrity(cr.pwd)
	if integrity.Check(m) != nil {
		return
	}
	if m.Contains(stun.AttrFingerprint) && stun.Fingerprint.Check(m) != nil {
		return
	}
	r := &s.resp
	r.Reset()
	ip := net.IP(p.addr.Addr().AsSlice())
	if err := r.Build(stun.NewTransactionIDSetter(m.TransactionID), stun.BindingSuccess,
		&stun.XORMappedAddress{IP: ip, Port: int(p.addr.Port())}, integrity, stun.Fingerprint); err != nil {
		return
	}
	if !cr.ep.checked(p, m.TransactionID, m.Contains(stun.AttrUseCandidate)) {
		return
	}
	if err := n.send(&p, r.Raw, nil, nil); err != nil {
		n.log.Debug("ice check response", "path", p.String(), "err", err)
	}
}
