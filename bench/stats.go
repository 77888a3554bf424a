package main

import (
	"context"
	"encoding/binary"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// samples collects durations in microseconds; safe for concurrent use.
type samples struct {
	mu sync.Mutex
	v  []int32
}

func (s *samples) add(d time.Duration) {
	s.mu.Lock()
	s.v = append(s.v, int32(min(d.Microseconds(), 1<<31-1)))
	s.mu.Unlock()
}

func (s *samples) addAll(v []int32) {
	s.mu.Lock()
	s.v = append(s.v, v...)
	s.mu.Unlock()
}

func (s *samples) reset() {
	s.mu.Lock()
	s.v = nil
	s.mu.Unlock()
}

// dist summarises samples in milliseconds.
type dist struct {
	N   int     `json:"n"`
	P50 float64 `json:"p50Ms"`
	P90 float64 `json:"p90Ms"`
	P99 float64 `json:"p99Ms"`
	Max float64 `json:"maxMs"`
}

func (s *samples) dist() dist {
	s.mu.Lock()
	v := slices.Clone(s.v)
	s.mu.Unlock()
	if len(v) == 0 {
		return dist{}
	}
	slices.Sort(v)
	q := func(p float64) float64 { return float64(v[min(int(p*float64(len(v))), len(v)-1)]) / 1000 }
	return dist{N: len(v), P50: q(0.50), P90: q(0.90), P99: q(0.99), Max: float64(v[len(v)-1]) / 1000}
}

// window is the measurement interval, in unix nanoseconds of send time.
// Outside it nothing is counted.
type window struct{ start, end atomic.Int64 }

func (w *window) set(a, b time.Time) { w.start.Store(a.UnixNano()); w.end.Store(b.UnixNano()) }
func (w *window) clear()             { w.start.Store(0); w.end.Store(0) }
func (w *window) in(t int64) bool    { s := w.start.Load(); return s != 0 && t >= s && t < w.end.Load() }

// probe measures the load generator's own loopback latency: plain UDP
// packets stamped with their send time, sent every 20 ms on a few socket
// pairs of this process. Subtracting it from a one-way delay through the
// server leaves (roughly) what the server adds.
type probe struct {
	delays samples
	done   chan struct{}
}

func runProbe(ctx context.Context, pairs int, d time.Duration) (*probe, error) {
	p := &probe{done: make(chan struct{})}
	ctx, cancel := context.WithTimeout(ctx, d)
	var wg sync.WaitGroup
	for range pairs {
		rx, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			cancel()
			return nil, err
		}
		tx, err := net.DialUDP("udp", nil, rx.LocalAddr().(*net.UDPAddr))
		if err != nil {
			rx.Close()
			cancel()
			return nil, err
		}
		wg.Add(2)
		go func() {
			defer wg.Done()
			buf := make([]byte, 200)
			for {
				n, err := rx.Read(buf)
				if err != nil {
					return
				}
				if n >= 8 {
					sent := int64(binary.BigEndian.Uint64(buf))
					p.delays.add(time.Duration(time.Now().UnixNano() - sent))
				}
			}
		}()
		go func() {
			defer wg.Done()
			defer rx.Close()
			defer tx.Close()
			t := time.NewTicker(20 * time.Millisecond)
			defer t.Stop()
			buf := make([]byte, 172) // the size of a PCMU RTP packet
			for {
				select {
				case <-ctx.Done():
					return
				case <-t.C:
					binary.BigEndian.PutUint64(buf, uint64(time.Now().UnixNano()))
					_, _ = tx.Write(buf)
				}
			}
		}()
	}
	go func() { wg.Wait(); cancel(); close(p.done) }()
	return p, nil
}
