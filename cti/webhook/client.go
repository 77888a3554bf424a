package webhook

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"syscall"
	"time"

	"github.com/ringbridge/ringbridge/cti"
)

// Server-side request forgery. Webhook URLs are chosen by tenant
// administrators, who must not be able to make ringbridge call into the
// network it runs in (loopback services, the cloud metadata endpoint, the
// office LAN). So a target must resolve to public addresses only, unless
// the process configuration (not a tenant) allow-lists a private range for
// an on-premises CRM. The rule is applied twice:
//
//   - when an endpoint is created or changed (CheckTarget): a literal
//     address, "localhost" or a name that resolves to a refused address is
//     a field error on "url";
//   - on every connection (the dialer's Control func), on the address
//     really dialled, so a name that resolved to a public address at
//     creation and to 127.0.0.1 later (DNS rebinding) is refused too.
//
// Delivery errors are reported as a status and a generic reason only
// (see worker.go), so the outbox cannot be used as a port scanner.

// Resolver looks host names up; *net.Resolver is one.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// AddrPolicy decides which addresses webhooks may connect to.
type AddrPolicy struct {
	// AllowPrivate lists ranges that are reachable although not public
	// (an on-premises CRM at 10.1.2.3/32, a test receiver on 127.0.0.1/32).
	AllowPrivate []netip.Prefix
}

// ParsePrefixes reads CIDRs ("10.0.0.0/8") or single addresses.
func ParsePrefixes(list []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range list {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if !strings.Contains(s, "/") {
			a, err := netip.ParseAddr(s)
			if err != nil {
				return nil, fmt.Errorf("webhook allowlist entry %q: not an address or CIDR", s)
			}
			out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
			continue
		}
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return nil, fmt.Errorf("webhook allowlist entry %q: %w", s, err)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// nonPublic are the special-purpose ranges (RFC 6890 and successors) that
// no CRM on the Internet lives in.
var nonPublic = func() []netip.Prefix {
	var out []netip.Prefix
	for _, s := range []string{
		"0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16",
		"172.16.0.0/12", "192.0.0.0/24", "192.0.2.0/24", "192.88.99.0/24", "192.168.0.0/16",
		"198.18.0.0/15", "198.51.100.0/24", "203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4",
		"::/128", "::1/128", "64:ff9b::/96", "64:ff9b:1::/48", "100::/64", "2001::/23",
		"2001:db8::/32", "fc00::/7", "fe80::/10", "fec0::/10", "ff00::/8",
	} {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}()

// errRefusedAddr is what a refused connection reports; the address is not
// part of the text that reaches the tenant.
var errRefusedAddr = errors.New("webhook: target address is not public and not allow-listed")

// Allowed reports whether webhooks may connect to ip.
func (p AddrPolicy) Allowed(ip netip.Addr) bool {
	ip = ip.Unmap()
	if !ip.IsValid() {
		return false
	}
	for _, pr := range p.AllowPrivate {
		if pr.Contains(ip) {
			return true
		}
	}
	// 2001::/23 covers Teredo and other special ranges but also carries
	// globally reachable assignments (2001:4860 is not in it); the list
	// above follows the IANA registry's "globally reachable: false".
	for _, pr := range nonPublic {
		if pr.Contains(ip) {
			return false
		}
	}
	return true
}

// control is the dialer's Control func: it runs on the address really
// dialled, after DNS.
func (p AddrPolicy) control(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("webhook: dial %q: %w", address, err)
	}
	if !p.Allowed(ap.Addr()) {
		return errRefusedAddr
	}
	return nil
}

// CheckTarget applies the policy to a configured URL's host when an
// endpoint is saved. A name that does not resolve now is accepted (DNS
// may be down for a moment; the dial-time check still applies); one that
// resolves to any refused address is not.
func (p AddrPolicy) CheckTarget(ctx context.Context, r Resolver, rawURL string) error {
	host := hostOf(rawURL)
	if host == "" {
		return nil // Validate reports the URL itself
	}
	refuse := func() error {
		return cti.InvalidField("url", "url: the host must resolve to public addresses (private ranges need the process-level webhook allowlist)")
	}
	if a, err := netip.ParseAddr(strings.Trim(host, "[]")); err == nil {
		if !p.Allowed(a) {
			return refuse()
		}
		return nil
	}
	lh := strings.ToLower(strings.TrimSuffix(host, "."))
	if lh == "localhost" || strings.HasSuffix(lh, ".localhost") {
		if !p.Allowed(netip.MustParseAddr("127.0.0.1")) {
			return refuse()
		}
		return nil
	}
	if r == nil {
		return nil
	}
	lctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	addrs, err := r.LookupNetIP(lctx, "ip", host)
	if err != nil {
		return nil
	}
	for _, a := range addrs {
		if !p.Allowed(a) {
			return refuse()
		}
	}
	return nil
}

func hostOf(rawURL string) string {
	_, rest, ok := strings.Cut(rawURL, "://")
	if !ok {
		return ""
	}
	rest, _, _ = strings.Cut(rest, "/")
	rest, _, _ = strings.Cut(rest, "?")
	if i := strings.LastIndex(rest, "@"); i >= 0 {
		rest = rest[i+1:]
	}
	if h, _, err := net.SplitHostPort(rest); err == nil {
		return h
	}
	return rest
}

// NewHTTPClient returns the client the outbox uses by default. It does not
// follow redirects (a 3xx is a failed delivery: the signature and method
// would not survive one, and a redirect could point inside), uses no proxy
// from the environment (the address check must see the real target), and
// resolves names with r (nil: the system resolver), connecting only to
// addresses the policy allows.
func NewHTTPClient(policy AddrPolicy, r Resolver) *http.Client {
	dialer := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second, Control: policy.control}
	dial := dialer.DialContext
	if r != nil {
		dial = resolvingDial(dialer, r)
	}
	return &http.Client{
		Transport: &http.Transport{
			DialContext:           dial,
			ForceAttemptHTTP2:     true,
			MaxIdleConns:          100,
			MaxIdleConnsPerHost:   8,
			IdleConnTimeout:       90 * time.Second,
			TLSHandshakeTimeout:   10 * time.Second,
			ExpectContinueTimeout: time.Second,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// resolvingDial looks the host up with r and dials the addresses in turn;
// the dialer's Control still checks each one.
func resolvingDial(d *net.Dialer, r Resolver) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, port, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, err
		}
		if _, err := netip.ParseAddr(host); err == nil {
			return d.DialContext(ctx, network, addr)
		}
		ips, err := r.LookupNetIP(ctx, "ip", host)
		if err != nil {
			return nil, err
		}
		var first error
		for _, ip := range ips {
			c, err := d.DialContext(ctx, network, net.JoinHostPort(ip.Unmap().String(), port))
			if err == nil {
				return c, nil
			}
			if first == nil {
				first = err
			}
		}
		if first == nil {
			first = fmt.Errorf("webhook: %s resolved to no address", host)
		}
		return nil, first
	}
}
