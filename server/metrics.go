package server

import (
	"fmt"
	"net/http"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/ringbridge/ringbridge/cti"
	"github.com/ringbridge/ringbridge/server/wsproto"
)

// metrics are the edge's Prometheus series. Labels are closed sets
// (direction, error code) so no call, user or number can ever become a
// label value.
type metrics struct {
	wsMessages *prometheus.CounterVec
	wsErrors   *prometheus.CounterVec
}

const (
	dirIn  = "in"
	dirOut = "out"
)

// wsErrorCodes is every code the agent websocket can send; pre-creating
// their series makes rate() work from the first error on.
var wsErrorCodes = []string{
	wsproto.CodeBadMessage, wsproto.CodeUnauthorized, wsproto.CodeForbidden,
	wsproto.CodeNotFound, wsproto.CodeConflict, wsproto.CodeUnavailable,
	wsproto.CodeBusy, wsproto.CodeInternal, wsproto.CodeTooLarge,
	wsproto.CodeSessionReplace,
}

func newMetrics(reg prometheus.Registerer, svc *cti.Service) (*metrics, error) {
	m := &metrics{
		wsMessages: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ringbridge_ws_messages_total",
			Help: "Agent websocket messages, by direction (in = from clients).",
		}, []string{"direction"}),
		wsErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ringbridge_ws_errors_total",
			Help: "Error messages sent on the agent websocket, by code.",
		}, []string{"code"}),
	}
	collectors := []prometheus.Collector{
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "ringbridge_active_calls",
			Help: "Calls in progress.",
		}, func() float64 { return float64(svc.ActiveCalls()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "ringbridge_agent_sessions",
			Help: "Open agent sessions, including those waiting for a reconnect.",
		}, func() float64 { return float64(svc.ConnectedAgents()) }),
		m.wsMessages,
		m.wsErrors,
	}
	for _, c := range collectors {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("server: register metrics: %w", err)
		}
	}
	m.wsMessages.WithLabelValues(dirIn)
	m.wsMessages.WithLabelValues(dirOut)
	for _, code := range wsErrorCodes {
		m.wsErrors.WithLabelValues(code)
	}
	return m, nil
}

// metricsHandler serves reg in the Prometheus exposition format.
func metricsHandler(reg *prometheus.Registry) fiber.Handler {
	return adaptor.HTTPHandler(MetricsHTTPHandler(reg))
}

// MetricsHTTPHandler serves reg in the Prometheus exposition format, for
// the main port and the private metrics address alike.
func MetricsHTTPHandler(reg *prometheus.Registry) http.Handler {
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		// A failing collector should not blank the whole scrape.
		ErrorHandling: promhttp.ContinueOnError,
		// Uncompressed: a scrape is tens of KiB, and gzip's writer is
		// ~1 MiB of heap that its pool loses at every second collection,
		// so with scrapes 15 s apart nearly each one allocated a new one.
		DisableCompression: true,
	})
}
