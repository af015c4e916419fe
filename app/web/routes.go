package web

// routes is the table of contents: every route and its guard.
func (s *Server) routes() {
	e := s.echo
	e.GET("/healthz", s.healthz)
	e.HEAD("/healthz", s.healthz)
	e.GET("/readyz", s.readyz)
	e.HEAD("/readyz", s.readyz)

	// Shopify webhooks: HMAC over the raw, size-capped body (in the handler).
	e.POST("/webhooks", s.webhook)

	// Storefront, through the App Proxy: signed query.
	proxy := e.Group("/proxy", s.requireProxySignature)
	proxy.POST("/subscribe", s.subscribe)
	proxy.GET("/status", s.proxyStatus)

	// Install (authorization-code grant): query HMAC, signed state cookie.
	e.GET("/auth", s.authStart)
	e.GET("/auth/callback", s.authCallback)

	// The embedded app (id_token in the query; token exchange on first load)
	// and its JSON API (session token in Authorization).
	e.GET("/", s.root)
	e.GET("/app", s.appPage)
	e.GET("/assets/*", s.asset)
	admin := e.Group("/api/admin", s.requireSessionToken)
	admin.GET("/shop", s.adminShop)
	admin.GET("/data-requests", s.adminDataRequests)
	admin.GET("/settings", s.adminSettings)
	admin.PUT("/settings", s.adminSaveSettings)
	admin.POST("/preview", s.adminShopPreview)
	admin.POST("/test-email", s.adminTestEmail)
	admin.GET("/demand", s.adminDemand)
	admin.GET("/restocks", s.adminRestocks)
	admin.GET("/products", s.adminProducts)
	admin.GET("/subscribers", s.adminSubscribers)
	admin.GET("/subscribers.csv", s.adminExport)
	admin.DELETE("/subscribers/:id", s.adminDeleteSubscriber)
	admin.GET("/onboarding", s.adminOnboarding)

	// SendGrid's Event Webhook: ECDSA-signed body.
	e.POST("/sendgrid/events", s.sendgridEvents)

	// Email links: signed tokens in the path.
	e.GET("/u/:token", s.unsubscribePage)
	e.POST("/u/:token", s.unsubscribe)
	e.GET("/r/:token", s.click)

	// Development only, and only for this machine: the outbox holds
	// shoppers' addresses and live links; /dev/admin mints session tokens.
	if s.cfg.Dev {
		dev := e.Group("/dev", s.devOnlyLocal)
		if s.cfg.Outbox != nil {
			dev.GET("/outbox", s.outboxList)
			dev.GET("/outbox/:name", s.outboxShow)
		}
		dev.GET("/admin", s.devAdmin)
		dev.GET("/session-token", s.devToken)
		dev.GET("/app-bridge-shim.js", s.devShim)
	}
}
