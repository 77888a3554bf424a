package rtpio

import "sync/atomic"

// Process-wide packet counters for metrics. One shared cache line per
// counter is cheap next to a syscall per packet.
var (
	totalReceived atomic.Uint64
	totalSent     atomic.Uint64
	totalDropped  atomic.Uint64
	// Of the sent: the submissions of a poller's round to io_uring and
	// the packets they carried (sendqueue_linux.go).
	totalBatches, totalBatched atomic.Uint64
)

// Counts are process-wide RTP packet totals.
type Counts struct {
	Received, Sent, Dropped uint64
	// SendBatches are io_uring submissions of a round's relayed
	// packets; BatchedSends the packets they carried.
	SendBatches, BatchedSends uint64
}

// Totals returns the packet totals of every leg since start.
func Totals() Counts {
	return Counts{Received: totalReceived.Load(), Sent: totalSent.Load(), Dropped: totalDropped.Load(),
		SendBatches: totalBatches.Load(), BatchedSends: totalBatched.Load()}
}
