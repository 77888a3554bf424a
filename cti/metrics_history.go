package cti

import (
	"context"
	"slices"
	"time"
)

// Historical metrics for supervisors: per queue and per agent, per
// interval (15 minutes, an hour, a day), worked out from the stored call
// records (their queue stories and agent parts) and status intervals, so
// they are exact and survive restarts.

// MetricsQuery selects a period cut into intervals.
type MetricsQuery struct {
	From, To time.Time
	Interval time.Duration // 15m, 1h or 24h
}

// QueueMetrics are one queue's figures over one interval.
type QueueMetrics struct {
	Queue     string    `json:"queue"`
	Start     time.Time `json:"start"`
	Offered   int       `json:"offered"`   // calls that joined the queue
	Answered  int       `json:"answered"`  // by an agent (callbacks included)
	Abandoned int       `json:"abandoned"` // the caller hung up waiting
	Overflow  int       `json:"overflow"`  // sent to the queue's overflow
	// AvgSpeedOfAnswerSeconds is the mean wait of answered calls.
	AvgSpeedOfAnswerSeconds float64 `json:"avgSpeedOfAnswerSeconds"`
	// AvgHandleSeconds is talk + hold + wrap-up per answered call.
	AvgHandleSeconds float64 `json:"avgHandleSeconds"`
	// ServiceLevel is the share of offered calls answered within the
	// queue's serviceLevelSeconds (1 when nothing was offered).
	ServiceLevel float64 `json:"serviceLevel"`
}

// AgentMetrics are one agent's figures over one interval.
type AgentMetrics struct {
	Extension string    `json:"extension"`
	Start     time.Time `json:"start"`
	Offered   int       `json:"offered"`  // rang for them
	Answered  int       `json:"answered"` // they answered
	// AvgHandleSeconds is talk + hold + wrap-up per answered call.
	AvgHandleSeconds float64 `json:"avgHandleSeconds"`
	// StatusSeconds is the time in each status ("away/lunch" for reasons).
	StatusSeconds map[string]float64 `json:"statusSeconds"`
}

// maxMetricBuckets bounds one query.
const maxMetricBuckets = 3000

// checkMetricsQuery validates the period and interval.
func checkMetricsQuery(q *MetricsQuery) error {
	switch q.Interval {
	case 15 * time.Minute, time.Hour, 24 * time.Hour:
	default:
		return InvalidField("interval", "interval is 15m, 1h or 1d")
	}
	if q.From.IsZero() || q.To.IsZero() || !q.From.Before(q.To) {
		return InvalidField("from", "from and to are required, from before to")
	}
	q.From = q.From.UTC().Truncate(q.Interval)
	if n := q.To.Sub(q.From) / q.Interval; n > maxMetricBuckets {
		return InvalidField("interval", "too many intervals in the period: widen the interval or narrow the period")
	}
	return nil
}

// bucketOf returns the start of t's interval, and whether t is inside.
func (q MetricsQuery) bucketOf(t time.Time) (time.Time, bool) {
	if t.Before(q.From) || !t.Before(q.To) {
		return time.Time{}, false
	}
	return q.From.Add(t.Sub(q.From) / q.Interval * q.Interval), true
}

// handleSeconds is what an answered call cost its agents.
func handleSeconds(r *CallRecord) float64 {
	return r.Durations.Talk + r.Durations.Hold + r.Durations.WrapUp
}

// records returns the tenant's call records started in the period (and
// up to a day before, so calls that waited across its start count).
func (s *Service) metricsRecords(ctx context.Context, tenantID string, q MetricsQuery) ([]CallRecord, error) {
	var out []CallRecord
	page := Page{Limit: MaxPageLimit}
	f := CallFilter{From: q.From.Add(-24 * time.Hour), To: q.To}
	for {
		list, next, err := s.store.ListCallRecords(ctx, tenantID, f, page)
		if err != nil {
			return nil, err
		}
		out = append(out, list...)
		if next == "" {
			return out, nil
		}
		page.Cursor = next
	}
}

// QueueMetricsOf returns every queue's figures per interval.
func (s *Service) QueueMetricsOf(ctx context.Context, p Principal, q MetricsQuery) ([]QueueMetrics, error) {
	if err := p.require(rolesReadAll, "read metrics"); err != nil {
		return nil, err
	}
	if err := checkMetricsQuery(&q); err != nil {
		return nil, err
	}
	recs, err := s.metricsRecords(ctx, p.TenantID, q)
	if err != nil {
		return nil, err
	}
	sl := map[string]float64{}
	if qs, err := s.store.ListQueues(ctx, p.TenantID); err == nil {
		for _, c := range qs {
			sl[c.Name] = float64(c.ServiceLevelSeconds)
		}
	}
	return queueMetrics(recs, q, sl), nil
}

// queueMetrics aggregates queue stories into interval rows (by the time
// the call joined the queue).
func queueMetrics(recs []CallRecord, q MetricsQuery, slSeconds map[string]float64) []QueueMetrics {
	type key struct {
		queue string
		start time.Time
	}
	type acc struct {
		m                  QueueMetrics
		waitSum, handleSum float64
		withinSL           int
	}
	rows := map[key]*acc{}
	for i := range recs {
		r := &recs[i]
		if r.Queue == nil {
			continue
		}
		start, ok := q.bucketOf(r.Queue.JoinedAt)
		if !ok {
			continue
		}
		k := key{r.Queue.Name, start}
		a := rows[k]
		if a == nil {
			a = &acc{m: QueueMetrics{Queue: r.Queue.Name, Start: start}}
			rows[k] = a
		}
		a.m.Offered++
		switch r.Queue.Outcome {
		case "answered", "callback_answered":
			a.m.Answered++
			a.waitSum += r.Queue.WaitSeconds
			a.handleSum += handleSeconds(r)
			limit := slSeconds[r.Queue.Name]
			if limit == 0 {
				limit = DefaultQueueServiceLevel
			}
			if r.Queue.WaitSeconds <= limit {
				a.withinSL++
			}
		case "abandoned":
			a.m.Abandoned++
		case "overflow":
			a.m.Overflow++
		}
	}
	out := make([]QueueMetrics, 0, len(rows))
	for _, a := range rows {
		if a.m.Answered > 0 {
			a.m.AvgSpeedOfAnswerSeconds = roundMs(a.waitSum / float64(a.m.Answered))
			a.m.AvgHandleSeconds = roundMs(a.handleSum / float64(a.m.Answered))
		}
		a.m.ServiceLevel = 1
		if a.m.Offered > 0 {
			a.m.ServiceLevel = roundMs(float64(a.withinSL) / float64(a.m.Offered))
		}
		out = append(out, a.m)
	}
	slices.SortFunc(out, func(a, b QueueMetrics) int {
		if c := compareStrings(a.Queue, b.Queue); c != 0 {
			return c
		}
		return a.Start.Compare(b.Start)
	})
	return out
}

// AgentMetricsOf returns every agent's figures per interval: calls rung
// and answered, handle time, and time in each status.
func (s *Service) AgentMetricsOf(ctx context.Context, p Principal, q MetricsQuery) ([]AgentMetrics, error) {
	if err := p.require(rolesReadAll, "read metrics"); err != nil {
		return nil, err
	}
	if err := checkMetricsQuery(&q); err != nil {
		return nil, err
	}
	// Supervisors see their teams' operators only (queues stay whole, as
	// in their live feed).
	var scope []string
	if p.Role == RoleSupervisor {
		var err error
		if scope, err = s.teamExtensions(ctx, p); err != nil {
			return nil, err
		}
		if len(scope) == 0 {
			return []AgentMetrics{}, nil
		}
	}
	sq := StatusQuery{Extensions: scope}
	recs, err := s.metricsRecords(ctx, p.TenantID, q)
	if err != nil {
		return nil, err
	}
	rows := agentCallMetrics(recs, q)
	now := s.now()
	for start := q.From; start.Before(q.To); start = start.Add(q.Interval) {
		sq.From, sq.To = start, start.Add(q.Interval)
		times, err := s.store.TimeInStatus(ctx, p.TenantID, sq, now)
		if err != nil {
			return nil, err
		}
		for _, t := range times {
			if !sq.allows(t.Extension) {
				continue
			}
			row := rows.get(t.Extension, start)
			k := string(t.Status)
			if t.Reason != "" {
				k += "/" + t.Reason
			}
			row.StatusSeconds[k] += t.Seconds
		}
	}
	for k := range rows {
		if !sq.allows(k.ext) {
			delete(rows, k)
		}
	}
	return rows.list(), nil
}

// agentRows collects agent metrics by extension and interval.
type agentRows map[agentRowKey]*agentRow

type agentRowKey struct {
	ext   string
	start time.Time
}

type agentRow struct {
	AgentMetrics
	handleSum float64
}

func (rows agentRows) get(ext string, start time.Time) *agentRow {
	k := agentRowKey{ext, start}
	r := rows[k]
	if r == nil {
		r = &agentRow{AgentMetrics: AgentMetrics{Extension: ext, Start: start, StatusSeconds: map[string]float64{}}}
		rows[k] = r
	}
	return r
}

func (rows agentRows) list() []AgentMetrics {
	out := make([]AgentMetrics, 0, len(rows))
	for _, r := range rows {
		if r.Answered > 0 {
			r.AvgHandleSeconds = roundMs(r.handleSum / float64(r.Answered))
		}
		out = append(out, r.AgentMetrics)
	}
	slices.SortFunc(out, func(a, b AgentMetrics) int {
		if c := compareStrings(a.Extension, b.Extension); c != 0 {
			return c
		}
		return a.Start.Compare(b.Start)
	})
	return out
}

// agentCallMetrics counts each agent part of a call in the interval its
// ringing started in.
func agentCallMetrics(recs []CallRecord, q MetricsQuery) agentRows {
	rows := agentRows{}
	for i := range recs {
		r := &recs[i]
		for _, part := range r.Agents {
			if part.RingStartedAt.IsZero() {
				continue // refused before ringing
			}
			start, ok := q.bucketOf(part.RingStartedAt)
			if !ok {
				continue
			}
			row := rows.get(part.Extension, start)
			row.Offered++
			if !part.AnsweredAt.IsZero() {
				row.Answered++
				row.handleSum += part.EndedAt.Sub(part.AnsweredAt).Seconds() + part.WrapUpSeconds
			}
		}
	}
	return rows
}

func roundMs(v float64) float64 { return seconds(time.Duration(v * float64(time.Second))) }
