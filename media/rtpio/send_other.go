//go:build !linux

package rtpio

import (
	"net"
	"net/netip"
)

// RawUDP is a UDP socket that relayed packets leave by; outside Linux
// it sends through the net package.
type RawUDP struct{ conn *net.UDPConn }

// Send sends b to to.
func (u *RawUDP) Send(b []byte, to netip.AddrPort) error {
	_, err := u.conn.WriteToUDPAddrPort(b, to)
	return err
}

// NewRawUDP wraps c.
func NewRawUDP(c *net.UDPConn) *RawUDP { return &RawUDP{conn: c} }

// Sender is one sender's scratch for RawUDP.
//
// Concurrency: one Send at a time.
type Sender struct{}

// Send sends b to to on u.
func (*Sender) Send(u *RawUDP, b []byte, to netip.AddrPort) error {
	_, err := u.conn.WriteToUDPAddrPort(b, to)
	return err
}
