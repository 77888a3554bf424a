package webhook

import (
	"errors"
	"net"
	"net/http"
	"net/netip"
	"syscall"
	"time"
)

// NewHTTPClient returns the client the outbox uses by default. It does not
// follow redirects (a 3xx is a failed delivery: the signature and method
// would not survive one) and refuses to connect to link-local, multicast
// and unspecified addresses, where cloud metadata services live. Private
// and loopback addresses are allowed: on-premises CRMs live there.
func NewHTTPClient() *http.Client {
	dialer := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second, Control: refuseSpecialAddrs}
	return &http.Client{
		Transport: &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           dialer.DialContext,
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

var errSpecialAddr = errors.New("webhook: refusing to connect to a link-local, multicast or unspecified address")

// refuseSpecialAddrs runs after DNS resolution, on the address really
// dialled, so a hostname resolving to a metadata address is caught too.
func refuseSpecialAddrs(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return err
	}
	ip := ap.Addr().Unmap()
	if ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() || ip.IsMulticast() || ip.IsUnspecified() {
		return errSpecialAddr
	}
	return nil
}
