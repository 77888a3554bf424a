package rtpio

import (
	"fmt"
	"net"
	"net/netip"
	"testing"
	"time"
)

// queueTarget is a receiving socket and the socket that sends to it.
type queueTarget struct {
	rx, tx *net.UDPConn
	u      *RawUDP
	to     netip.AddrPort
}

func queueTargets(t *testing.T, n int, shared bool) []queueTarget {
	t.Helper()
	ts := make([]queueTarget, n)
	for i := range ts {
		ts[i].rx = listenOn(t, "127.0.0.1:0")
		ts[i].to = ts[i].rx.LocalAddr().(*net.UDPAddr).AddrPort()
		if shared && i > 0 {
			ts[i].tx, ts[i].u = ts[0].tx, ts[0].u
			continue
		}
		ts[i].tx = listenOn(t, "127.0.0.1:0")
		ts[i].u = NewRawUDP(ts[i].tx)
	}
	return ts
}

// expect reads one datagram on t.rx and checks it is want, from t.tx.
func (qt queueTarget) expect(t *testing.T, want string) {
	t.Helper()
	buf := make([]byte, MTU)
	_ = qt.rx.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, from, err := qt.rx.ReadFromUDPAddrPort(buf)
	if err != nil {
		t.Fatalf("waiting for %q: %v", want, err)
	}
	if string(buf[:n]) != want || int(from.Port()) != qt.tx.LocalAddr().(*net.UDPAddr).Port {
		t.Fatalf("got %q from %v; want %q from %v", buf[:n], from, want, qt.tx.LocalAddr())
	}
}

// Queued packets leave on Flush, each from its own socket to its own
// destination with its own bytes (copied when queued: the caller's
// buffer is reused at once), whether there is one, a few, more than a
// queue holds, or many from one shared socket; with io_uring and
// without.
func TestSendQueueDelivers(t *testing.T) {
	for _, ring := range []bool{true, false} {
		for _, tc := range []struct {
			n      int
			shared bool
		}{{1, false}, {3, false}, {sendQueueLen + 5, false}, {8, true}} {
			t.Run(fmt.Sprintf("ring=%v/n=%d/shared=%v", ring, tc.n, tc.shared), func(t *testing.T) {
				q := NewSendQueue()
				defer q.Close()
				if !ring {
					q.Close()
				}
				ts := queueTargets(t, tc.n, tc.shared)
				buf := make([]byte, 64)
				for i, qt := range ts {
					m := copy(buf, fmt.Sprintf("packet %d", i))
					if err := q.Add(qt.u, buf[:m], qt.to); err != nil {
						t.Fatal(err)
					}
					clear(buf)
				}
				if q.Len() > sendQueueLen {
					t.Fatalf("%d queued; the queue holds %d", q.Len(), sendQueueLen)
				}
				batched0 := Totals().BatchedSends
				q.Flush()
				if q.Len() != 0 {
					t.Fatalf("%d left after Flush", q.Len())
				}
				if ring && tc.n > 1 && q.ring == nil {
					t.Fatal("no io_uring on this kernel; the test machine is expected to have it")
				}
				// Through io_uring: the last flush's packets (an overfull
				// queue flushed once before); alone or without it: none.
				want := uint64(0)
				if ring && tc.n > 1 {
					want = uint64((tc.n-1)%sendQueueLen + 1)
				}
				if got := Totals().BatchedSends - batched0; got != want {
					t.Errorf("%d packets went through io_uring; want %d", got, want)
				}
				for i, qt := range ts {
					qt.expect(t, fmt.Sprintf("packet %d", i))
				}
			})
		}
	}
}

// A socket closed between Add and Flush is skipped — its packet is
// counted as dropped — and the others still leave.
func TestSendQueueSkipsClosedSocket(t *testing.T) {
	for _, closed := range []int{0, 1, 2} {
		t.Run(fmt.Sprintf("closed=%d", closed), func(t *testing.T) {
			q := NewSendQueue()
			defer q.Close()
			ts := queueTargets(t, 3, false)
			for i, qt := range ts {
				if err := q.Add(qt.u, []byte(fmt.Sprintf("packet %d", i)), qt.to); err != nil {
					t.Fatal(err)
				}
				totalSent.Add(1) // as the Writer counts an accepted packet
			}
			sent0, dropped0 := totalSent.Load(), totalDropped.Load()
			_ = ts[closed].tx.Close()
			q.Flush()
			for i, qt := range ts {
				if i != closed {
					qt.expect(t, fmt.Sprintf("packet %d", i))
				}
			}
			if s, d := totalSent.Load()-sent0, totalDropped.Load()-dropped0; s != ^uint64(0) || d != 1 {
				t.Errorf("sent %+d, dropped %+d; want -1 and +1", int64(s), d)
			}
		})
	}
}

// Adding and flushing allocate nothing.
func TestSendQueueAllocatesNothing(t *testing.T) {
	q := NewSendQueue()
	defer q.Close()
	ts := queueTargets(t, 3, false)
	msg := []byte("relayed packet")
	allocs := testing.AllocsPerRun(100, func() {
		for _, qt := range ts {
			_ = q.Add(qt.u, msg, qt.to)
		}
		q.Flush()
	})
	if allocs != 0 {
		t.Errorf("a round of three allocates %.1f times", allocs)
	}
}
