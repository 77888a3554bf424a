//go:build !linux

package rtpio

import (
	"net"
	"net/netip"
)

// Outside Linux each leg reads its sockets on goroutines of its own.
type poller struct{}

var rtpPollers, rtcpPollers []*poller

func pollUDP([]*poller, *net.UDPConn, func([]byte, netip.AddrPort)) bool { return false }

func unpollUDP([]*poller, *net.UDPConn) {}
