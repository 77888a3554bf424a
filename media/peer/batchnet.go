package peer

import (
	"fmt"
	"net"

	"github.com/pion/transport/v4"
	"github.com/pion/transport/v4/stdnet"
)

// batchNet is the network the multi-address UDP mux opens its sockets
// through: the standard one, with each socket read in batches
// (batchconn_linux.go).
type batchNet struct {
	*stdnet.Net
	onListen func(net.PacketConn)
}

func newBatchNet(onListen func(net.PacketConn)) (*batchNet, error) {
	n, err := stdnet.NewNet()
	if err != nil {
		return nil, fmt.Errorf("network: %w", err)
	}
	return &batchNet{Net: n, onListen: onListen}, nil
}

// ListenUDP implements transport.Net.
func (n *batchNet) ListenUDP(network string, laddr *net.UDPAddr) (transport.UDPConn, error) {
	c, err := net.ListenUDP(network, laddr)
	if err != nil {
		return nil, err
	}
	w, err := wrapICESocket(c)
	if err != nil {
		_ = c.Close()
		return nil, err
	}
	if n.onListen != nil {
		n.onListen(w)
	}
	u, ok := w.(transport.UDPConn)
	if !ok {
		_ = c.Close()
		return nil, fmt.Errorf("ice udp socket %T is not a UDP connection", w)
	}
	return u, nil
}
