package server

import (
	"encoding/csv"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/ringbridge/ringbridge/cti"
)

// Operators' statuses (docs/crm.md §10): who is available, away, on a
// call, and how long each spent in each status.

// agentStatusRequest is PUT /api/v1/agents/{ext}/status.
type agentStatusRequest struct {
	Status string `json:"status"`
	Reason string `json:"reason"`
}

// listAgents: GET /api/v1/agents, every operator's status now.
func (s *Server) listAgents(c *fiber.Ctx) error {
	p, err := principalOf(c)
	if err != nil {
		return err
	}
	list, err := s.svc.AgentStatuses(c.UserContext(), p)
	if err != nil {
		return err
	}
	return c.JSON(listJSON[cti.AgentPresence]{Items: list})
}

// getAgent: GET /api/v1/agents/{ext}.
func (s *Server) getAgent(c *fiber.Ctx) error {
	p, err := principalOf(c)
	if err != nil {
		return err
	}
	a, err := s.svc.AgentStatusOf(c.UserContext(), p, c.Params("ext"))
	if err != nil {
		return err
	}
	return c.JSON(a)
}

// putAgentStatus: PUT /api/v1/agents/{ext}/status.
func (s *Server) putAgentStatus(c *fiber.Ctx) error {
	p, err := principalOf(c)
	if err != nil {
		return err
	}
	var req agentStatusRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	a, err := s.svc.SetAgentStatus(c.UserContext(), p, c.Params("ext"), cti.AgentStatus(req.Status), req.Reason)
	if err != nil {
		return err
	}
	return c.JSON(a)
}

// getAgentCall: GET /api/v1/agents/{ext}/call, the call ringing or in
// progress for an extension (404 when there is none).
func (s *Server) getAgentCall(c *fiber.Ctx) error {
	p, err := principalOf(c)
	if err != nil {
		return err
	}
	call, err := s.svc.AgentCall(c.UserContext(), p, c.Params("ext"))
	if err != nil {
		return err
	}
	return c.JSON(call)
}

// statusQuery reads from, to, extension and status from the query string.
func statusQuery(c *fiber.Ctx) (cti.StatusQuery, error) {
	q := cti.StatusQuery{Extension: c.Query("extension"), Status: cti.AgentStatus(c.Query("status"))}
	for name, dst := range map[string]*time.Time{"from": &q.From, "to": &q.To} {
		if v := c.Query(name); v != "" {
			t, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				return q, cti.InvalidField(name, name+" must be an RFC 3339 time such as 2026-03-02T09:00:00Z")
			}
			*dst = t
		}
	}
	return q, nil
}

// getTimeInStatus: GET /api/v1/agents/time-in-status?from=&to=
// [&extension=][&status=][&format=csv], seconds per operator, status and
// away reason within [from, to).
func (s *Server) getTimeInStatus(c *fiber.Ctx) error {
	p, err := principalOf(c)
	if err != nil {
		return err
	}
	q, err := statusQuery(c)
	if err != nil {
		return err
	}
	rows, err := s.svc.TimeInStatus(c.UserContext(), p, q)
	if err != nil {
		return err
	}
	if wantsCSV(c) {
		out := [][]string{{"extension", "username", "status", "reason", "seconds"}}
		for _, r := range rows {
			out = append(out, []string{r.Extension, csvSafe(r.Username), string(r.Status), csvSafe(r.Reason), ftoa(r.Seconds)})
		}
		return sendCSV(c, "time-in-status.csv", out)
	}
	return c.JSON(listJSON[cti.StatusTime]{Items: rows})
}

// getStatusHistory: GET /api/v1/agents/status-history?from=&to=
// [&extension=][&status=][&limit=][&cursor=], intervals newest first.
func (s *Server) getStatusHistory(c *fiber.Ctx) error {
	p, err := principalOf(c)
	if err != nil {
		return err
	}
	q, err := statusQuery(c)
	if err != nil {
		return err
	}
	page, err := pageOf(c)
	if err != nil {
		return err
	}
	list, next, err := s.svc.StatusHistory(c.UserContext(), p, q, page)
	if err != nil {
		return err
	}
	return c.JSON(listJSON[cti.StatusInterval]{Items: list, NextCursor: next})
}

// wantsCSV: ?format=csv, or an Accept that prefers text/csv.
func wantsCSV(c *fiber.Ctx) bool {
	if f := c.Query("format"); f != "" {
		return f == "csv"
	}
	return c.Accepts(fiber.MIMEApplicationJSON, "text/csv") == "text/csv"
}

// csvSafe keeps a spreadsheet from reading a cell as a formula.
func csvSafe(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// metricsQuery reads from, to and interval (15m, 1h, 1d).
func metricsQuery(c *fiber.Ctx) (cti.MetricsQuery, error) {
	sq, err := statusQuery(c)
	if err != nil {
		return cti.MetricsQuery{}, err
	}
	q := cti.MetricsQuery{From: sq.From, To: sq.To}
	switch c.Query("interval", "1h") {
	case "15m":
		q.Interval = 15 * time.Minute
	case "1h":
		q.Interval = time.Hour
	case "1d":
		q.Interval = 24 * time.Hour
	default:
		return q, cti.InvalidField("interval", "interval is 15m, 1h or 1d")
	}
	return q, nil
}

// getQueueMetrics: GET /api/v1/metrics/queues?from=&to=&interval=[&format=csv].
func (s *Server) getQueueMetrics(c *fiber.Ctx) error {
	p, err := principalOf(c)
	if err != nil {
		return err
	}
	q, err := metricsQuery(c)
	if err != nil {
		return err
	}
	rows, err := s.svc.QueueMetricsOf(c.UserContext(), p, q)
	if err != nil {
		return err
	}
	if wantsCSV(c) {
		out := [][]string{{"queue", "start", "offered", "answered", "abandoned", "overflow", "avg_speed_of_answer_seconds", "avg_handle_seconds", "service_level"}}
		for _, r := range rows {
			out = append(out, []string{csvSafe(r.Queue), r.Start.Format(time.RFC3339), strconv.Itoa(r.Offered), strconv.Itoa(r.Answered),
				strconv.Itoa(r.Abandoned), strconv.Itoa(r.Overflow), ftoa(r.AvgSpeedOfAnswerSeconds), ftoa(r.AvgHandleSeconds), ftoa(r.ServiceLevel)})
		}
		return sendCSV(c, "queue-metrics.csv", out)
	}
	return c.JSON(listJSON[cti.QueueMetrics]{Items: rows})
}

// getAgentMetrics: GET /api/v1/metrics/agents?from=&to=&interval=[&format=csv].
func (s *Server) getAgentMetrics(c *fiber.Ctx) error {
	p, err := principalOf(c)
	if err != nil {
		return err
	}
	q, err := metricsQuery(c)
	if err != nil {
		return err
	}
	rows, err := s.svc.AgentMetricsOf(c.UserContext(), p, q)
	if err != nil {
		return err
	}
	if wantsCSV(c) {
		out := [][]string{{"extension", "start", "offered", "answered", "avg_handle_seconds", "status", "seconds"}}
		for _, r := range rows {
			base := []string{r.Extension, r.Start.Format(time.RFC3339), strconv.Itoa(r.Offered), strconv.Itoa(r.Answered), ftoa(r.AvgHandleSeconds)}
			if len(r.StatusSeconds) == 0 {
				out = append(out, append(base, "", ""))
			}
			for _, st := range sortedKeys(r.StatusSeconds) {
				out = append(out, append(slices.Clone(base), csvSafe(st), ftoa(r.StatusSeconds[st])))
			}
		}
		return sendCSV(c, "agent-metrics.csv", out)
	}
	return c.JSON(listJSON[cti.AgentMetrics]{Items: rows})
}

func ftoa(v float64) string { return strconv.FormatFloat(v, 'f', 3, 64) }

func sortedKeys(m map[string]float64) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// sendCSV answers with rows as a CSV download.
func sendCSV(c *fiber.Ctx, name string, rows [][]string) error {
	var b strings.Builder
	w := csv.NewWriter(&b)
	_ = w.WriteAll(rows)
	c.Set(fiber.HeaderContentType, "text/csv; charset=utf-8")
	c.Set(fiber.HeaderContentDisposition, `attachment; filename="`+name+`"`)
	return c.SendString(b.String())
}

// getForwarding: GET /api/v1/agents/{ext}/forwarding.
func (s *Server) getForwarding(c *fiber.Ctx) error {
	p, err := principalOf(c)
	if err != nil {
		return err
	}
	f, err := s.svc.GetForwarding(c.UserContext(), p, c.Params("ext"))
	if err != nil {
		return err
	}
	return c.JSON(f)
}

// putForwarding: PUT /api/v1/agents/{ext}/forwarding replaces the rules.
func (s *Server) putForwarding(c *fiber.Ctx) error {
	p, err := principalOf(c)
	if err != nil {
		return err
	}
	var f cti.Forwarding
	if err := decodeJSON(c, &f); err != nil {
		return err
	}
	f.Extension = c.Params("ext")
	out, err := s.svc.SetForwarding(c.UserContext(), p, f)
	if err != nil {
		return err
	}
	return c.JSON(out)
}

// deleteForwarding: DELETE /api/v1/agents/{ext}/forwarding.
func (s *Server) deleteForwarding(c *fiber.Ctx) error {
	p, err := principalOf(c)
	if err != nil {
		return err
	}
	if err := s.svc.DeleteForwarding(c.UserContext(), p, c.Params("ext")); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}
