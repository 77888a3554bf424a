package server

import (
	"crypto/subtle"

	"github.com/gofiber/fiber/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ringbridge/ringbridge/cti"
)

// routes registers every endpoint. Keeping them in one list makes the
// surface reviewable at a glance (and is what the OpenAPI test will walk).
func (s *Server) routes(reg *prometheus.Registry) {
	app := s.app
	app.Use(s.recoverPanic, s.baseHeaders)

	app.Get("/healthz", s.getHealth)
	if s.cfg.MetricsToken != "" {
		app.Get("/metrics", s.requireMetricsToken, metricsHandler(reg))
	}

	api := app.Group("/api/v1", noStore)
	api.Get("/openapi.json", s.getOpenAPI)
	api.Post("/auth/login", s.postLogin)
	api.Post("/auth/refresh", s.postRefresh)
	api.Post("/auth/logout", s.postLogout)
	api.Get("/me", s.requireAuth, s.getMe)

	// CRM integration (docs/crm.md).
	api.Post("/api-keys", s.requireAuth, s.createAPIKey)
	api.Get("/api-keys", s.requireAuth, s.listAPIKeys)
	api.Delete("/api-keys/:id", s.requireAuth, s.deleteAPIKey)
	api.Get("/phonebook", s.requireAuth, s.listPhonebook)
	api.Post("/phonebook", s.requireAuth, s.createContact)
	api.Get("/phonebook/:id", s.requireAuth, s.getContact)
	api.Put("/phonebook/:id", s.requireAuth, s.putContact)
	api.Delete("/phonebook/:id", s.requireAuth, s.deleteContact)
	api.Post("/calls", s.requireAuth, s.postCall)
	api.Get("/calls", s.requireAuth, s.listCalls)
	api.Get("/calls/:id", s.requireAuth, s.getCall)
	api.Patch("/calls/:id", s.requireAuth, s.patchCall)
	api.Put("/calls/:id/monitor", s.requireAuth, s.putMonitor)
	api.Delete("/calls/:id/monitor", s.requireAuth, s.deleteMonitor)
	api.Post("/calls/:id/recording/:action", s.requireAuth, s.postCallRecording)
	api.Post("/calls/:id/analysis", s.requireAuth, s.postCallAnalysis)
	api.Get("/recordings/:code", s.requireAuth, s.getRecording)
	api.Post("/recordings/:code/play-link", s.requireAuth, s.postPlayLink)
	api.Get("/recordings/:code/play", s.getRecordingPlay) // authorised by the link's signature
	api.Get("/recording-policies", s.requireAuth, s.listRecordingPolicies)
	api.Put("/recording-policies/:scope/:target", s.requireAuth, s.putRecordingPolicy)
	api.Delete("/recording-policies/:scope/:target", s.requireAuth, s.deleteRecordingPolicy)
	// Operators' statuses and time in status.
	api.Get("/agents", s.requireAuth, s.listAgents)
	api.Get("/agents/time-in-status", s.requireAuth, s.getTimeInStatus)
	api.Get("/agents/status-history", s.requireAuth, s.getStatusHistory)
	api.Get("/agents/:ext", s.requireAuth, s.getAgent)
	api.Put("/agents/:ext/status", s.requireAuth, s.putAgentStatus)
	api.Get("/agents/:ext/call", s.requireAuth, s.getAgentCall)
	api.Get("/agents/:ext/forwarding", s.requireAuth, s.getForwarding)
	api.Put("/agents/:ext/forwarding", s.requireAuth, s.putForwarding)
	api.Delete("/agents/:ext/forwarding", s.requireAuth, s.deleteForwarding)
	// Historical metrics.
	api.Get("/metrics/queues", s.requireAuth, s.getQueueMetrics)
	api.Get("/metrics/agents", s.requireAuth, s.getAgentMetrics)
	// Queues.
	api.Get("/ivr/flows", s.requireAuth, s.listIVRFlows)
	api.Post("/ivr/flows", s.requireAuth, s.postIVRFlow)
	api.Get("/ivr/flows/:id", s.requireAuth, s.getIVRFlow)
	api.Put("/ivr/flows/:id", s.requireAuth, s.putIVRFlow)
	api.Delete("/ivr/flows/:id", s.requireAuth, s.deleteIVRFlow)
	api.Get("/ivr/flows/:id/versions", s.requireAuth, s.listIVRFlowVersions)
	api.Post("/ivr/flows/:id/rollback", s.requireAuth, s.rollbackIVRFlow)
	api.Put("/ivr/flows/:id/nodes/:node", s.requireAuth, s.putIVRNode)
	api.Delete("/ivr/flows/:id/nodes/:node", s.requireAuth, s.deleteIVRNode)
	api.Post("/ivr-calls", s.requireAuth, s.postIVRCall)
	api.Get("/ivr-calls/:id", s.requireAuth, s.getIVRCall)
	api.Get("/prompts", s.requireAuth, s.listPrompts)
	api.Post("/prompts", s.requireAuth, s.postPrompt)
	api.Get("/prompts/:id", s.requireAuth, s.getPrompt)
	api.Get("/prompts/:id/audio", s.requireAuth, s.getPromptAudio)
	api.Delete("/prompts/:id", s.requireAuth, s.deletePrompt)
	api.Get("/queues", s.requireAuth, s.listQueues)
	api.Post("/queues", s.requireAuth, s.createQueue)
	api.Get("/queues/:id", s.requireAuth, s.getQueue)
	api.Put("/queues/:id", s.requireAuth, s.putQueue)
	api.Delete("/queues/:id", s.requireAuth, s.deleteQueue)
	api.Get("/queues/:id/state", s.requireAuth, s.getQueueState)
	api.Put("/queues/:id/music", s.requireAuth, s.putQueueMusic)
	s.webhookRoutes(api) // webhook endpoints and deliveries (docs/webhooks.md)

	// Administration (docs/admin.md). Fixed paths before /users/:id.
	api.Get("/users/export", s.requireAuth, s.exportUsers)
	api.Post("/users/import", s.requireAuth, s.importUsers)
	api.Get("/users", s.requireAuth, s.listUsers)
	api.Post("/users", s.requireAuth, s.createUser)
	api.Get("/users/:id", s.requireAuth, s.getUser)
	api.Patch("/users/:id", s.requireAuth, s.patchUser)
	api.Delete("/users/:id", s.requireAuth, s.deleteUser)
	api.Post("/users/:id/disable", s.requireAuth, s.disableUser)
	api.Post("/users/:id/enable", s.requireAuth, s.enableUser)
	api.Post("/users/:id/password", s.requireAuth, s.resetPassword)
	api.Get("/numbers", s.requireAuth, s.listNumbers)
	api.Post("/numbers", s.requireAuth, s.createNumber)
	api.Get("/numbers/:id", s.requireAuth, s.getNumber)
	api.Put("/numbers/:id", s.requireAuth, s.putNumber)
	api.Delete("/numbers/:id", s.requireAuth, s.deleteNumber)
	api.Get("/settings", s.requireAuth, s.getSettings)
	api.Patch("/settings", s.requireAuth, s.patchSettings)
	api.Get("/dialing-rules", s.requireAuth, s.getDialRules)
	api.Put("/dialing-rules", s.requireAuth, s.putDialRules)
	api.Get("/tenants", s.requireAuth, s.listTenants)
	api.Post("/tenants", s.requireAuth, s.createTenant)
	api.Get("/tenants/:id", s.requireAuth, s.getTenant)
	api.Patch("/tenants/:id", s.requireAuth, s.patchTenant)
	api.Delete("/tenants/:id", s.requireAuth, s.deleteTenant)
	api.Get("/trunks", s.requireAuth, s.listTrunks)
	api.Post("/trunks", s.requireAuth, s.createTrunk)
	api.Get("/trunks/:id", s.requireAuth, s.getTrunk)
	api.Put("/trunks/:id", s.requireAuth, s.putTrunk)
	api.Delete("/trunks/:id", s.requireAuth, s.deleteTrunk)
	api.Get("/audit", s.requireAuth, s.listAudit)

	app.Get("/ws/agent", s.agentUpgradeGuard, s.agentWebsocket())
	app.Get("/ws/supervisor", s.agentUpgradeGuard, s.supervisorWebsocket())

	s.staticRoutes()
}

// baseHeaders are safe on every response, API and page alike. HSTS is
// sent when browsers reach us over HTTPS: we terminate TLS, or
// Config.ExternalTLS says a proxy in front does (plain HTTP otherwise,
// where the header would be ignored anyway).
func (s *Server) baseHeaders(c *fiber.Ctx) error {
	c.Set(fiber.HeaderXContentTypeOptions, "nosniff")
	c.Set(fiber.HeaderReferrerPolicy, "no-referrer")
	if s.scheme() == "https" {
		c.Set(fiber.HeaderStrictTransportSecurity, hstsValue)
	}
	return c.Next()
}

// noStore keeps API answers (tokens, personal data) out of every cache:
// the browser's, and any proxy's in between.
func noStore(c *fiber.Ctx) error {
	c.Set(fiber.HeaderCacheControl, "no-store")
	c.Set(fiber.HeaderPragma, "no-cache")
	return c.Next()
}

// requireMetricsToken guards /metrics on the public port.
func (s *Server) requireMetricsToken(c *fiber.Ctx) error {
	tok, ok := bearerToken(c.Get(fiber.HeaderAuthorization))
	if !ok || subtle.ConstantTimeCompare([]byte(tok), []byte(s.cfg.MetricsToken)) != 1 {
		c.Set(fiber.HeaderWWWAuthenticate, `Bearer realm="metrics"`)
		return cti.Errorf(cti.KindUnauthorized, "metrics need Authorization: Bearer <metrics token>")
	}
	return c.Next()
}
