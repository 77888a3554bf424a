package peer

import (
	"sync"
	"time"

	"github.com/pion/rtcp"
	"github.com/ringbridge/ringbridge/media/rtpio"
)

// reportSlots spreads the sessions' reports over the interval: each tick
// sends for one slot's sessions, so 500 sessions do not encrypt and send
// 500 reports in the same millisecond.
const reportSlots = 10

// defaultReportInterval is Chrome's for audio (RFC 3550's minimum of 5 s
// for low-bandwidth sessions), not pion's 1 s.
const defaultReportInterval = 5 * time.Second

// reporter sends every agent session's RTCP sender and receiver reports
// from one goroutine. pion's report interceptors would run two ticker
// goroutines per PeerConnection and take a lock and the time on every
// packet; the counts the reports need are kept by rtpio's Reader and
// Writer anyway (rtpio.Reports builds the same reports for SIP legs).
//
// Concurrency: add and remove may be called from any goroutine; the loop
// is owned by the API and ends with close.
type reporter struct {
	interval time.Duration

	mu   sync.Mutex
	next int
	eps  map[reportee]int // endpoint → slot

	stopOnce sync.Once
	stop     chan struct{}
	done     chan struct{}
}

// reportee is a session the reporter visits: the pion Endpoint or the
// ICE-lite one.
type reportee interface{ sendReport(now time.Time) }

func newReporter(interval time.Duration) *reporter {
	if interval <= 0 {
		interval = defaultReportInterval
	}
	r := &reporter{interval: interval, eps: map[reportee]int{}, stop: make(chan struct{}), done: make(chan struct{})}
	go r.loop()
	return r
}

func (r *reporter) add(e reportee) {
	r.mu.Lock()
	r.eps[e] = r.next % reportSlots
	r.next++
	r.mu.Unlock()
}

func (r *reporter) remove(e reportee) {
	r.mu.Lock()
	delete(r.eps, e)
	r.mu.Unlock()
}

func (r *reporter) close() {
	r.stopOnce.Do(func() { close(r.stop) })
	<-r.done
}

func (r *reporter) loop() {
	defer close(r.done)
	t := time.NewTicker(r.interval / reportSlots)
	defer t.Stop()
	var due []reportee
	for slot := 0; ; slot = (slot + 1) % reportSlots {
		select {
		case <-r.stop:
			return
		case now := <-t.C:
			due = due[:0]
			r.mu.Lock()
			for e, s := range r.eps {
				if s == slot {
					due = append(due, e)
				}
			}
			r.mu.Unlock()
			for _, e := range due {
				e.sendReport(now)
			}
		}
	}
}

// sendReport sends the session's report unless nothing moved either way
// since the last one: a signed-in agent between calls sends nothing, and
// then costs no reports either (ICE consent keeps the path alive).
func (e *Endpoint) sendReport(now time.Time) {
	if !e.rep.moved(e.writer, e.reader) {
		return
	}
	pkt := e.reports.Report(e.writer, e.track.octets.Load(), e.reader.Reception(), now)
	if pkt == nil {
		return
	}
	_ = e.pc.WriteRTCP([]rtcp.Packet{pkt})
}

// reportCounts are a session's packet counts at its last report; only
// the API's reporter touches them.
type reportCounts struct{ sent, recv uint64 }

// moved reports whether packets went either way since the last report
// (and remembers the counts): an idle signed-in agent gets no reports.
func (c *reportCounts) moved(w *rtpio.Writer, r *rtpio.Reader) bool {
	sent, recv := w.Sent(), r.Received()
	if sent == c.sent && recv == c.recv {
		return false
	}
	c.sent, c.recv = sent, recv
	return true
}
