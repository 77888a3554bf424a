//go:build !linux

package rtpio

import (
	"net"
	"net/netip"
)

// Outside Linux each leg reads its sockets on goroutines of its own.
type poller struct{}

var rtpPollers, rtcpPollers []*poller

func pollUDP([]*poller, *net.UDPConn, func([]byte, netip.AddrPort, *SendQueue)) bool { return false }

func unpollUDP([]*poller, *net.UDPConn) {}

// RecvBatch is recvmmsg's reusable state; outside Linux there is none.
type RecvBatch struct{}

// PollUDP reports that conn cannot be polled here: read it yourself.
func PollUDP(*net.UDPConn, *RecvBatch, func([]byte, netip.AddrPort, *SendQueue)) bool { return false }

// UnpollUDP does nothing here.
func UnpollUDP(*net.UDPConn) {}
