// Package web is Restock Relay's HTTP face (Echo): Shopify webhooks, the
// storefront's app-proxy form, email links, health checks and the
// development outbox. Handlers parse, call restock or store, and render.
package web

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/restockrelay/restockrelay/app/email"
	"github.com/restockrelay/restockrelay/app/restock"
	"github.com/restockrelay/restockrelay/app/store"
	"github.com/restockrelay/restockrelay/shopify"
)

// Config is what the web layer needs to know.
type Config struct {
	Flow   *restock.Flow
	Store  *store.Store
	Logger *slog.Logger
	// Secrets verify Shopify's signatures: current first, then previous.
	Secrets []string
	// APIKey is the app's client id (session tokens' audience).
	APIKey string
	// AppURL is the public base URL (the OAuth redirect).
	AppURL string
	// Scopes are requested by the authorization-code install.
	Scopes string
	// OAuth builds Shopify's authorize URL.
	OAuth *shopify.OAuth
	// Outbox lists emails in development; nil in production.
	Outbox *email.Outbox
	// Dev enables development-only routes.
	Dev bool
	// EventKey verifies SendGrid's signed Event Webhook; nil accepts unsigned
	// events in development and refuses them in production.
	EventKey *ecdsa.PublicKey
	// SignupLimits bound the storefront form (zero: DefaultSignupLimits).
	SignupLimits SignupLimits
	// TestEmailLimit bounds the admin's test emails per shop (zero:
	// DefaultTestEmailLimit).
	TestEmailLimit RateLimit
	// ProxyMaxSkew bounds the age of an app-proxy signature (default 5 min).
	ProxyMaxSkew time.Duration
}

// Server holds the handlers' dependencies.
type Server struct {
	cfg    Config
	flow   *restock.Flow
	log    *slog.Logger
	echo   *echo.Echo
	limits signupLimits
	tests  *limiter // test emails per shop
}

// signupLimits guard the public storefront form: per shopper IP, per email
// and, as a backstop, per shop.
type signupLimits struct{ ip, email, shop *limiter }

// SignupLimits bound the storefront form per shopper IP, per email and,
// as a backstop, per shop.
type SignupLimits struct{ PerIP, PerEmail, PerShop RateLimit }

// DefaultSignupLimits: a person signs up for a few variants in a row; a
// script does not get far.
var DefaultSignupLimits = SignupLimits{
	PerIP:    RateLimit{Every: 6 * time.Second, Burst: 10},
	PerEmail: RateLimit{Every: 30 * time.Second, Burst: 8},
	PerShop:  RateLimit{Every: 20 * time.Millisecond, Burst: 200},
}

// DefaultTestEmailLimit: a merchant tries a few versions of the copy; the
// app is not a way to mail anyone anything.
var DefaultTestEmailLimit = RateLimit{Every: time.Minute, Burst: 5}

// RateLimit is a token bucket: one token per Every, at most Burst saved.
type RateLimit struct {
	Every time.Duration
	Burst int
}

// MaxWebhookBody is the largest webhook body accepted (413 above).
const MaxWebhookBody = 1 << 20

// New builds the server and its routes.
func New(cfg Config) *Server {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.ProxyMaxSkew == 0 {
		cfg.ProxyMaxSkew = 5 * time.Minute
	}
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = httpErrorHandler(cfg.Logger)
	if cfg.SignupLimits == (SignupLimits{}) {
		cfg.SignupLimits = DefaultSignupLimits
	}
	l := cfg.SignupLimits
	s := &Server{cfg: cfg, flow: cfg.Flow, log: cfg.Logger, echo: e, limits: signupLimits{
		ip:    newLimiter(l.PerIP.Every, l.PerIP.Burst),
		email: newLimiter(l.PerEmail.Every, l.PerEmail.Burst),
		shop:  newLimiter(l.PerShop.Every, l.PerShop.Burst),
	}}
	if cfg.TestEmailLimit == (RateLimit{}) {
		cfg.TestEmailLimit = DefaultTestEmailLimit
	}
	s.tests = newLimiter(cfg.TestEmailLimit.Every, cfg.TestEmailLimit.Burst)
	e.Use(middleware.RecoverWithConfig(middleware.RecoverConfig{
		LogErrorFunc: func(c echo.Context, err error, stack []byte) error {
			cfg.Logger.Error("panic in handler", "path", c.Path(), "error", err, "stack", string(stack))
			return err
		},
	}))
	e.Use(s.accessLog)
	s.routes()
	return s
}

// Handler is the whole app as an http.Handler.
func (s *Server) Handler() http.Handler { return s.echo }

// Serve listens on ln until ctx ends, then shuts down gracefully.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           s.echo,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve http: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shut down http: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// accessLog logs method, route and status: never query strings or bodies,
// which carry shoppers' data.
func (s *Server) accessLog(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		err := next(c)
		status := c.Response().Status
		var he *echo.HTTPError
		if errors.As(err, &he) {
			status = he.Code
		}
		s.log.Debug("http request", "method", c.Request().Method, "route", c.Path(), "status", status,
			"duration_ms", time.Since(start).Milliseconds())
		return err
	}
}
