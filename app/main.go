// Command restockrelay is the Restock Relay Shopify app: the web server and
// job workers (serve, the default), schema migration (migrate), shop
// registration with an Admin API token (shop add), and a self-contained
// demonstration against local fakes (demo).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/restockrelay/restockrelay/app/config"
	"github.com/restockrelay/restockrelay/app/email"
	"github.com/restockrelay/restockrelay/app/restock"
	"github.com/restockrelay/restockrelay/app/store"
	"github.com/restockrelay/restockrelay/app/web"
	"github.com/restockrelay/restockrelay/shopify"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "restockrelay:", err)
		os.Exit(1)
	}
}

const usage = `usage: restockrelay [command]

commands:
  serve                                   run the web server and job workers (default)
  migrate                                 apply database migrations and exit
  shop add --shop NAME.myshopify.com --token TOKEN [--name NAME] [--currency USD]
                                          register a shop with an Admin API access token
  demo                                    run the whole restock story against local fakes

Configuration comes from the environment; see README.md.`

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cmd := "serve"
	if len(args) > 0 {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "serve":
		return serve(ctx, getenv, stderr)
	case "migrate":
		return migrate(ctx, getenv, stdout)
	case "shop":
		return shopCommand(ctx, args, getenv, stdout, stderr)
	case "demo":
		return demo(ctx, stdout)
	case "help", "-h", "--help":
		fmt.Fprintln(stdout, usage)
		return nil
	}
	return fmt.Errorf("unknown command %q\n%s", cmd, usage)
}

func newLogger(cfg config.Config, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.LogLevel}
	if cfg.Production() {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// app is everything serve, migrate and shop add share.
type app struct {
	cfg   config.Config
	log   *slog.Logger
	store *store.Store
	flow  *restock.Flow
	out   *email.Outbox
}

func open(ctx context.Context, getenv func(string) string, logw io.Writer) (*app, error) {
	cfg, err := config.Load(getenv)
	if err != nil {
		return nil, err
	}
	log := newLogger(cfg, logw)
	st, err := store.Open(ctx, cfg.DatabaseURL, store.Options{Logger: log})
	if err != nil {
		return nil, err
	}
	a := &app{cfg: cfg, log: log, store: st}
	flow, err := newFlow(ctx, cfg, st, log, restock.WallClock{}, a)
	if err != nil {
		st.Close()
		return nil, err
	}
	a.flow = flow
	return a, nil
}

func newFlow(ctx context.Context, cfg config.Config, st *store.Store, log *slog.Logger, clock restock.Clock, a *app) (*restock.Flow, error) {
	sealer, err := store.NewSealer(cfg.EncryptionKey)
	if err != nil {
		return nil, err
	}
	renderer, err := email.NewRenderer()
	if err != nil {
		return nil, err
	}
	var sender email.Sender
	if cfg.SendGridAPIKey != "" {
		sender = email.NewSendGrid(email.SendGridConfig{APIKey: cfg.SendGridAPIKey, BaseURL: cfg.SendGridAPIURL, Logger: log})
	} else {
		out := email.NewOutbox(cfg.OutboxDir)
		out.NowFunc = clock.Now
		if a != nil {
			a.out = out
		}
		sender = out
	}
	return restock.New(ctx, restock.Config{
		Store:    st,
		Sender:   sender,
		Renderer: renderer,
		Links:    restock.NewLinks(cfg.EncryptionKey, cfg.AppURL),
		Sealer:   sealer,
		CatalogFunc: func(shop, token string) (restock.Catalog, error) {
			return shopify.NewAdminClient(shopify.AdminConfig{Shop: shop, AccessToken: token, APIVersion: cfg.APIVersion, BaseURL: cfg.AdminURL})
		},
		OAuth:      newOAuth(cfg, clock),
		Clock:      clock,
		Logger:     log,
		MailFrom:   cfg.MailFrom,
		CheckDelay: time.Second,
	})
}

func newOAuth(cfg config.Config, clock restock.Clock) *shopify.OAuth {
	return shopify.NewOAuth(shopify.OAuthConfig{APIKey: cfg.APIKey, APISecret: cfg.APISecret, BaseURL: cfg.AdminURL, NowFunc: clock.Now})
}

func serve(ctx context.Context, getenv func(string) string, logw io.Writer) error {
	a, err := open(ctx, getenv, logw)
	if err != nil {
		return err
	}
	defer a.store.Close()
	a.log.Info("starting", "config", a.cfg)
	if err := a.flow.Start(ctx); err != nil {
		return fmt.Errorf("start jobs: %w", err)
	}
	wcfg := web.Config{Flow: a.flow, Store: a.store, Logger: a.log, Secrets: a.cfg.Secrets(), Outbox: a.out, Dev: !a.cfg.Production(),
		APIKey: a.cfg.APIKey, AppURL: a.cfg.AppURL, Scopes: a.cfg.Scopes, OAuth: newOAuth(a.cfg, restock.WallClock{})}
	if k := a.cfg.SendGridWebhookPublicKey; k != "" {
		if wcfg.EventKey, err = web.ParseEventKey(k); err != nil {
			return fmt.Errorf("SENDGRID_WEBHOOK_PUBLIC_KEY is not a base64 DER public key: %w", err)
		}
	}
	srv := web.New(wcfg)
	ln, err := net.Listen("tcp", ":"+strconv.Itoa(a.cfg.Port))
	if err != nil {
		return fmt.Errorf("listen on port %d: %w", a.cfg.Port, err)
	}
	a.log.Info("listening", "addr", ln.Addr().String(), "app_url", a.cfg.AppURL)
	serveErr := srv.Serve(ctx, ln)
	stopCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := a.flow.Stop(stopCtx); err != nil {
		a.log.Warn("jobs did not stop cleanly", "error", err)
	}
	a.log.Info("stopped")
	return serveErr
}

func migrate(ctx context.Context, getenv func(string) string, stdout io.Writer) error {
	a, err := open(ctx, getenv, io.Discard)
	if err != nil {
		return err
	}
	defer a.store.Close()
	fmt.Fprintf(stdout, "migrations applied (%s)\n", a.store.Dialect)
	return nil
}

func shopCommand(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "add" {
		return errors.New("usage: restockrelay shop add --shop NAME.myshopify.com --token TOKEN")
	}
	fs := flag.NewFlagSet("shop add", flag.ContinueOnError)
	fs.SetOutput(stderr)
	domain := fs.String("shop", "", "shop domain, NAME.myshopify.com")
	token := fs.String("token", "", "Admin API access token (shpat_…)")
	name := fs.String("name", "", "shop name shown in emails (default: from the domain)")
	currency := fs.String("currency", "", "shop currency code, e.g. USD (default: keep, or USD for a new shop)")
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if *domain == "" || *token == "" {
		return errors.New("--shop and --token are required")
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	a, err := open(ctx, getenv, io.Discard)
	if err != nil {
		return err
	}
	defer a.store.Close()
	sh, err := a.flow.InstallShop(ctx, *domain, *token, *name, *currency)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "shop %s registered (id %d); its token is stored encrypted\n", sh.Domain, sh.ID)
	return nil
}
