package peer

import (
	"bytes"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/ringbridge/ringbridge/cti"
)

// loopbackUDP is an IPv4 loopback socket closed with the test.
func loopbackUDP(tb testing.TB) *net.UDPConn {
	tb.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = c.Close() })
	return c
}

// loopbackBatchConn is a batch reader on a loopback socket.
func loopbackBatchConn(tb testing.TB) *batchConn {
	tb.Helper()
	bc, err := newBatchConn(loopbackUDP(tb))
	if err != nil {
		tb.Fatal(err)
	}
	return bc
}

// Datagrams waiting in the socket come out one by one, in order, each
// with its own payload and source, from fewer system calls than
// datagrams.
func TestBatchConnReadsWaitingDatagramsInBatches(t *testing.T) {
	bc := loopbackBatchConn(t)
	senders := [2]*net.UDPConn{loopbackUDP(t), loopbackUDP(t)}
	const n = 100 // more than one batch
	for i := range n {
		pkt := bytes.Repeat([]byte{byte(i)}, 20+i)
		if _, err := senders[i%2].WriteToUDPAddrPort(pkt, bc.LocalAddr().(*net.UDPAddr).AddrPort()); err != nil {
			t.Fatal(err)
		}
	}
	_ = bc.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 1500)
	for i := range n {
		m, from, err := bc.ReadFromAddrPort(buf)
		if err != nil {
			t.Fatalf("datagram %d: %v", i, err)
		}
		if want := bytes.Repeat([]byte{byte(i)}, 20+i); !bytes.Equal(buf[:m], want) {
			t.Fatalf("datagram %d: %d bytes %x…, want %d bytes of %x", i, m, buf[:1], len(want), byte(i))
		}
		if want := senders[i%2].LocalAddr().(*net.UDPAddr).AddrPort(); from != want {
			t.Fatalf("datagram %d from %v, want %v", i, from, want)
		}
	}
	reads, got := bc.batch.Counts()
	if got != n || reads >= n/4 {
		t.Fatalf("%d datagrams in %d reads: want %d in at most %d", got, reads, n, n/4)
	}

	// Nothing waiting: the read waits, and a deadline ends it.
	_ = bc.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	if _, _, err := bc.ReadFromAddrPort(buf); err == nil {
		t.Fatal("read returned without a datagram")
	} else if ne, ok := err.(net.Error); !ok || !ne.Timeout() {
		t.Fatalf("read after the deadline: %v, want a timeout", err)
	}

	// Closed: the reader learns it.
	_ = bc.SetReadDeadline(time.Time{})
	done := make(chan error, 1)
	go func() { _, _, err := bc.ReadFromAddrPort(buf); done <- err }()
	time.Sleep(20 * time.Millisecond) // let the read block; it must end either way
	_ = bc.Close()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("read on a closed socket succeeded")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("read not ended by Close")
	}
}

// The ICE socket of an API is read in batches, and agents connect over it.
func TestAPIReadsICESocketInBatches(t *testing.T) {
	bothStacks(t, func(t *testing.T, stack string) {
		api := liteServerStack(t, Config{Stack: stack})
		capi, err := NewClientAPI()
		if err != nil {
			t.Fatal(err)
		}
		connect(t, api, capi, cti.AgentEndpointEvents{})
		reads, datagrams := api.ICEReads()
		if reads == 0 || datagrams < reads {
			t.Fatalf("ICE socket reads %d, datagrams %d: want the batch reader in use", reads, datagrams)
		}
	})
}

// An IPv6 source keeps its address (a mapped IPv4 one stays mapped, as
// net reports it).
func TestSockaddrToAddrPort(t *testing.T) {
	c, err := net.ListenUDP("udp6", &net.UDPAddr{IP: net.IPv6loopback})
	if err != nil {
		t.Skip("no IPv6 loopback here:", err)
	}
	bc, err := newBatchConn(c)
	if err != nil {
		t.Fatal(err)
	}
	defer bc.Close()
	s, err := net.ListenUDP("udp6", &net.UDPAddr{IP: net.IPv6loopback})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.WriteToUDPAddrPort([]byte("x"), bc.LocalAddr().(*net.UDPAddr).AddrPort()); err != nil {
		t.Fatal(err)
	}
	_ = bc.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, from, err := bc.ReadFromAddrPort(make([]byte, 10))
	if err != nil {
		t.Fatal(err)
	}
	if want := s.LocalAddr().(*net.UDPAddr).AddrPort(); from != want || from.Addr() != netip.IPv6Loopback() {
		t.Fatalf("from %v, want %v", from, want)
	}
}

// The shared ICE socket's read path allocates nothing: 32 datagrams are
// sent, then read back through the batch.
func BenchmarkBatchConnRead(b *testing.B) {
	bc := loopbackBatchConn(b)
	_ = bc.SetReadBuffer(1 << 20)
	s := loopbackUDP(b)
	to := bc.LocalAddr().(*net.UDPAddr).AddrPort()
	pkt, buf := make([]byte, 200), make([]byte, 1500)
	b.SetBytes(32 * 200)
	b.ReportAllocs()
	for b.Loop() {
		for range 32 {
			if _, err := s.WriteToUDPAddrPort(pkt, to); err != nil {
				b.Fatal(err)
			}
		}
		for range 32 {
			if _, _, err := bc.ReadFromAddrPort(buf); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// A datagram longer than an Ethernet MTU (a reassembled fragment) comes
// through whole, as it did when pion read the socket itself.
func TestBatchConnKeepsLongDatagrams(t *testing.T) {
	bc := loopbackBatchConn(t)
	s := loopbackUDP(t)
	long := bytes.Repeat([]byte("0123456789abcdef"), 4000/16)
	if _, err := s.WriteToUDPAddrPort(long, bc.LocalAddr().(*net.UDPAddr).AddrPort()); err != nil {
		t.Fatal(err)
	}
	_ = bc.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 8192)
	n, _, err := bc.ReadFromAddrPort(buf)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf[:n], long) {
		t.Fatalf("got %d bytes, want the %d sent", n, len(long))
	}
}
