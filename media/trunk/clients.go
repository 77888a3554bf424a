package trunk

import (
	"log/slog"
	"strings"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// clients holds one sipgo client per kind of transport. UDP requests must
// leave from the listening socket (trunks check the source port, and
// answers must come back to it), which sipgo does by binding new
// connections to that local address. The same binding breaks TCP: a
// connection cannot take the port our TCP listener holds, and in-dialog
// requests could not reuse the established connection. So stream
// transports get a client of their own without it.
type clients struct {
	udp, stream     *sipgo.Client
	udpUA, streamUA *sipgo.DialogUA
}

func newClients(ua *sipgo.UserAgent, host string, udpAddr string, contact sip.ContactHeader, log *slog.Logger) (*clients, error) {
	// rport in our Via (RFC 3581): responses come back to the port we sent
	// from, even through NAT.
	base := []sipgo.ClientOption{sipgo.WithClientHostname(host), sipgo.WithClientLogger(log), sipgo.WithClientNAT()}
	stream, err := sipgo.NewClient(ua, base...)
	if err != nil {
		return nil, err
	}
	udp := stream
	if udpAddr != "" {
		if udp, err = sipgo.NewClient(ua, append(base, sipgo.WithClientConnectionAddr(udpAddr))...); err != nil {
			return nil, err
		}
	}
	// A Contact says how to reach us: over TCP, in-dialog requests must
	// come back over TCP (RFC 3261 §8.1.1.8, §12.1.1).
	streamContact := *contact.Clone()
	streamContact.Address.UriParams = sip.NewParams()
	streamContact.Address.UriParams.Add("transport", "tcp")
	return &clients{udp: udp, stream: stream,
		udpUA:    &sipgo.DialogUA{Client: udp, ContactHDR: contact},
		streamUA: &sipgo.DialogUA{Client: stream, ContactHDR: streamContact}}, nil
}

// contact is our Contact for dialogs over transport.
func (c *clients) contact(transport string) *sip.ContactHeader {
	return &c.dialogUA(transport).ContactHDR
}

func isStream(transport string) bool { return !strings.EqualFold(transport, "udp") && transport != "" }

// client returns the client for requests over transport.
func (c *clients) client(transport string) *sipgo.Client {
	if isStream(transport) {
		return c.stream
	}
	return c.udp
}

// dialogUA returns the dialog helper for requests over transport.
func (c *clients) dialogUA(transport string) *sipgo.DialogUA {
	if isStream(transport) {
		return c.streamUA
	}
	return c.udpUA
}

func (c *clients) close() {
	_ = c.stream.Close()
	if c.udp != c.stream {
		_ = c.udp.Close()
	}
}
