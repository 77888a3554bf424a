package rtpio

import (
	"bytes"
	"net"
	"net/netip"
	"testing"
	"time"
)

// A raw send arrives as the net package's would, from the socket's own
// address, on IPv4 sockets and on dual-stack IPv6 ones (an IPv4
// destination as a mapped address), and allocates nothing.
func TestRawUDPSendsFromTheSocket(t *testing.T) {
	for _, tc := range []struct {
		name, listen string
		to           func(rx *net.UDPConn) netip.AddrPort
	}{
		{"ipv4", "127.0.0.1:0", func(rx *net.UDPConn) netip.AddrPort { return rx.LocalAddr().(*net.UDPAddr).AddrPort() }},
		{"ipv4 mapped destination", "127.0.0.1:0", func(rx *net.UDPConn) netip.AddrPort {
			ap := rx.LocalAddr().(*net.UDPAddr).AddrPort()
			return netip.AddrPortFrom(netip.AddrFrom16(ap.Addr().As16()), ap.Port())
		}},
		{"dual stack to ipv4", "[::]:0", func(rx *net.UDPConn) netip.AddrPort {
			return netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), rx.LocalAddr().(*net.UDPAddr).AddrPort().Port())
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rx := listenOn(t, "127.0.0.1:0")
			tx := listenOn(t, tc.listen)
			u := NewRawUDP(tx)
			if u == nil {
				t.Fatal("no raw socket")
			}
			var s Sender
			to := tc.to(rx)
			msg := []byte("relayed packet")
			if err := s.Send(u, msg, to); err != nil {
				t.Fatalf("send to %v: %v", to, err)
			}
			buf := make([]byte, 64)
			_ = rx.SetReadDeadline(time.Now().Add(5 * time.Second))
			n, from, err := rx.ReadFromUDPAddrPort(buf)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(buf[:n], msg) || from.Port() != tx.LocalAddr().(*net.UDPAddr).AddrPort().Port() {
				t.Fatalf("got %q from %v; want %q from port %d", buf[:n], from, msg, tx.LocalAddr().(*net.UDPAddr).Port)
			}
			if a := testing.AllocsPerRun(100, func() { _ = s.Send(u, msg, to) }); a != 0 {
				t.Errorf("a send allocates %.1f times", a)
			}
		})
	}
}

// What cannot go raw goes through the net package, which explains the
// refusal; a closed socket refuses too.
func TestRawUDPRefusals(t *testing.T) {
	tx := listenOn(t, "127.0.0.1:0")
	u := NewRawUDP(tx)
	var s Sender
	if err := s.Send(u, []byte("x"), netip.MustParseAddrPort("[::1]:9")); err == nil {
		t.Error("an IPv6 destination on an IPv4 socket was accepted")
	}
	if err := s.Send(u, []byte("x"), netip.MustParseAddrPort("[fe80::1%lo]:9")); err == nil {
		t.Error("a zoned IPv6 destination on an IPv4 socket was accepted")
	}
	_ = tx.Close()
	if err := s.Send(u, []byte("x"), netip.MustParseAddrPort("127.0.0.1:9")); err == nil {
		t.Error("a closed socket sent")
	}
}

func listenOn(t *testing.T, addr string) *net.UDPConn {
	t.Helper()
	c, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.MustParseAddrPort(addr)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}
