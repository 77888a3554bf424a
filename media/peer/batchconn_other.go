//go:build !linux

package peer

import "net"

// wrapICESocket returns c as it is: recvmmsg is Linux's, elsewhere the
// shared ICE sockets are read a datagram at a time.
func wrapICESocket(c *net.UDPConn) (net.PacketConn, error) { return c, nil }

func batchStats(net.PacketConn) (batches, datagrams uint64, ok bool) { return 0, 0, false }
