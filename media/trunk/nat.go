package trunk

import (
	"context"
	"net/netip"

	"github.com/emiago/sipgo/sip"
)

// Where in-dialog requests (BYE, re-INVITE and its ACK) go. A trunk behind
// NAT often puts its private address in Contact; requests sent there are
// lost, so the far end never hears our hang-up or hold.
const (
	// InDialogContact follows RFC 3261: the far end's Contact (or the
	// route set its Record-Route built).
	InDialogContact = "contact"
	// InDialogSource sends to the address and port the far end's
	// dialog-creating message came from (its NAT binding; the rport rule
	// of RFC 3581 applied to requests).
	InDialogSource = "source"
	// InDialogAuto is InDialogSource when the Contact is a private,
	// shared, link-local, loopback or unspecified IP that is not the
	// source's address, InDialogContact otherwise. The default.
	InDialogAuto = "auto"
)

// validInDialogTarget reports whether s names a rule ("" is auto).
func validInDialogTarget(s string) bool {
	switch s {
	case "", InDialogAuto, InDialogContact, InDialogSource:
		return true
	}
	return false
}

// cgnat is the shared address space of RFC 6598, used by carrier NATs.
var cgnat = netip.MustParsePrefix("100.64.0.0/10")

// unroutable reports whether a Contact host is an address the far end's
// NAT hides from us.
func unroutable(a netip.Addr) bool {
	a = a.Unmap()
	return a.IsPrivate() || a.IsLoopback() || a.IsLinkLocalUnicast() || a.IsUnspecified() || cgnat.Contains(a)
}

// inDialogDest is where the leg's in-dialog requests go: "" lets sipgo
// use the Contact (or the route set), else a host:port.
func (l *leg) inDialogDest() string {
	if l.srv != nil && len(l.srv.InviteRequest.GetHeaders("Record-Route")) > 0 {
		return "" // a proxy in the path handles NAT for its side
	}
	if l.cli != nil && l.cli.InviteResponse != nil && len(l.cli.InviteResponse.GetHeaders("Record-Route")) > 0 {
		return ""
	}
	src := l.sigSource()
	if src == "" {
		return ""
	}
	switch l.trunk.InDialogTarget {
	case InDialogContact:
		return ""
	case InDialogSource:
		return src
	}
	target := l.remoteTarget()
	host, err := netip.ParseAddr(target.Host)
	if err != nil || !unroutable(host) {
		return "" // a name or a public address: trust it
	}
	from, err := netip.ParseAddrPort(src)
	if err != nil || from.Addr().Unmap() == host.Unmap() {
		return ""
	}
	return src
}

// sigSource is the transport address the far end's dialog-creating
// message came from ("" if unknown).
func (l *leg) sigSource() string {
	if l.srv != nil {
		return l.srv.InviteRequest.Source()
	}
	if l.cli != nil && l.cli.InviteResponse != nil {
		return l.cli.InviteResponse.Source()
	}
	return ""
}

// route points an in-dialog request at inDialogDest.
func (l *leg) route(req *sip.Request) *sip.Request {
	if dest := l.inDialogDest(); dest != "" {
		req.SetDestination(dest)
	}
	return req
}

// bye sends BYE for an answered leg, to where inDialogDest says.
func (l *leg) bye(ctx context.Context) error {
	bye := sip.NewRequest(sip.BYE, l.remoteTarget())
	if l.srv != nil {
		bye.SetTransport(l.srv.InviteRequest.Transport())
		return l.srv.WriteBye(ctx, l.route(bye))
	}
	bye.SetTransport(l.cli.InviteRequest.Transport())
	return l.cli.WriteBye(ctx, l.route(bye))
}
