//go:build !linux

package rtpio

import "net"

// readRTCP: outside Linux each leg reads its RTCP socket on a goroutine
// of its own (rtcpLoop).
func readRTCP(*UDPLeg, *net.UDPConn) bool { return false }

func stopRTCP(*net.UDPConn) {}
