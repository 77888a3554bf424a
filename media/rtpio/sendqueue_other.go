//go:build !linux

package rtpio

import "net/netip"

// SendQueue sends at once outside Linux: there is no round to batch.
//
// Concurrency: one goroutine at a time.
type SendQueue struct{ s Sender }

// NewSendQueue returns a queue.
func NewSendQueue() *SendQueue { return &SendQueue{} }

// Close does nothing.
func (*SendQueue) Close() {}

// Len is 0: nothing waits.
func (*SendQueue) Len() int { return 0 }

// Add sends b to to on u.
func (q *SendQueue) Add(u *RawUDP, b []byte, to netip.AddrPort) error { return q.s.Send(u, b, to) }

// Flush does nothing.
func (*SendQueue) Flush() {}
