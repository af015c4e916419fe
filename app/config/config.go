// Package config reads Restock Relay's configuration from the environment
// once, at start, and validates it. Everything else receives plain values.
package config

import (
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
)

// Config is the whole configuration of one process.
type Config struct {
	Env         string // development or production
	Port        int
	AppURL      string // public base URL, no trailing slash
	DatabaseURL string
	LogLevel    slog.Level

	APIKey         string
	APISecret      string
	PreviousSecret string // also accepted while set: unset it once a rotation is over
	Scopes         string
	APIVersion     string
	AdminURL       string // test/dev: replaces https://{shop}

	SendGridAPIKey           string
	SendGridAPIURL           string
	SendGridWebhookPublicKey string
	MailFrom                 string
	OutboxDir                string

	// EncryptionKey is 32 bytes: seals access tokens and signs links.
	EncryptionKey []byte
}

// Production reports whether the app runs in production mode.
func (c Config) Production() bool { return c.Env == "production" }

// Development defaults: good enough to run and test locally, refused in production.
const (
	devSecret = "dev-shopify-api-secret"
	devKey    = "dev-shopify-api-key"
)

// Load reads the configuration through getenv (os.Getenv in main, a map in
// tests). Shopify CLI's own variable names are accepted as well as ours.
func Load(getenv func(string) string) (Config, error) {
	first := func(names ...string) string {
		for _, n := range names {
			if v := strings.TrimSpace(getenv(n)); v != "" {
				return v
			}
		}
		return ""
	}
	c := Config{
		Env:                      strings.ToLower(first("APP_ENV")),
		AppURL:                   strings.TrimRight(first("APP_URL", "HOST", "SHOPIFY_APP_URL"), "/"),
		DatabaseURL:              first("DATABASE_URL"),
		APIKey:                   first("SHOPIFY_API_KEY"),
		APISecret:                first("SHOPIFY_API_SECRET"),
		PreviousSecret:           first("SHOPIFY_API_SECRET_PREVIOUS"),
		Scopes:                   first("SHOPIFY_SCOPES", "SCOPES"),
		APIVersion:               first("SHOPIFY_API_VERSION"),
		AdminURL:                 strings.TrimRight(first("SHOPIFY_ADMIN_URL"), "/"),
		SendGridAPIKey:           first("SENDGRID_API_KEY"),
		SendGridAPIURL:           strings.TrimRight(first("SENDGRID_API_URL"), "/"),
		SendGridWebhookPublicKey: first("SENDGRID_WEBHOOK_PUBLIC_KEY"),
		MailFrom:                 first("MAIL_FROM"),
		OutboxDir:                first("OUTBOX_DIR"),
	}
	if c.Env == "" {
		c.Env = "development"
	}
	if c.Env != "development" && c.Env != "production" {
		return Config{}, fmt.Errorf("APP_ENV must be development or production, not %q", c.Env)
	}
	var missing []string
	portText := first("PORT", "BACKEND_PORT", "SERVER_PORT")
	if portText == "" {
		portText = "8080"
	}
	p, err := strconv.Atoi(portText)
	if err != nil || p < 0 || p > 65535 {
		return Config{}, fmt.Errorf("PORT must be a number from 0 to 65535, not %q", portText)
	}
	c.Port = p
	if c.AppURL == "" {
		c.AppURL = fmt.Sprintf("http://localhost:%d", c.Port)
	} else if !strings.Contains(c.AppURL, "://") {
		c.AppURL = "https://" + c.AppURL // Shopify CLI's HOST is sometimes bare
	}
	if u, err := url.Parse(c.AppURL); err != nil || u.Host == "" {
		return Config{}, fmt.Errorf("APP_URL must be an absolute URL, not %q", c.AppURL)
	}
	switch strings.ToLower(first("LOG_LEVEL")) {
	case "", "info":
		c.LogLevel = slog.LevelInfo
	case "debug":
		c.LogLevel = slog.LevelDebug
	case "warn":
		c.LogLevel = slog.LevelWarn
	case "error":
		c.LogLevel = slog.LevelError
	default:
		return Config{}, fmt.Errorf("LOG_LEVEL must be debug, info, warn or error, not %q", first("LOG_LEVEL"))
	}
	if c.Scopes == "" {
		c.Scopes = "read_products,read_inventory,read_orders,read_themes,write_app_proxy"
	}
	if c.APIVersion == "" {
		c.APIVersion = "2026-10"
	}
	if c.SendGridAPIURL == "" {
		c.SendGridAPIURL = "https://api.sendgrid.com"
	}
	if c.MailFrom == "" {
		c.MailFrom = "restock@localhost"
	}
	if c.OutboxDir == "" {
		c.OutboxDir = "./data/outbox"
	}
	if k := first("ENCRYPTION_KEY"); k != "" {
		key, err := base64.StdEncoding.DecodeString(k)
		if err != nil || len(key) != 32 {
			return Config{}, errors.New("ENCRYPTION_KEY must be 32 random bytes in base64 (try: openssl rand -base64 32)")
		}
		c.EncryptionKey = key
	}

	if c.Production() {
		if c.APIKey == "" {
			missing = append(missing, "SHOPIFY_API_KEY")
		}
		if c.APISecret == "" {
			missing = append(missing, "SHOPIFY_API_SECRET")
		}
		if c.SendGridAPIKey == "" {
			missing = append(missing, "SENDGRID_API_KEY")
		}
		if c.EncryptionKey == nil {
			missing = append(missing, "ENCRYPTION_KEY")
		}
		if !strings.HasPrefix(c.DatabaseURL, "postgres://") && !strings.HasPrefix(c.DatabaseURL, "postgresql://") {
			missing = append(missing, "DATABASE_URL (a postgres:// URL)")
		}
		if !strings.HasPrefix(first("APP_URL", "HOST", "SHOPIFY_APP_URL"), "https://") {
			missing = append(missing, "APP_URL (the public https:// URL: email links point there)")
		}
		if first("MAIL_FROM") == "" {
			missing = append(missing, "MAIL_FROM (a sender SendGrid has verified)")
		}
		if c.AdminURL != "" {
			return Config{}, errors.New("SHOPIFY_ADMIN_URL is for tests and development only; unset it in production")
		}
		if len(missing) > 0 {
			return Config{}, fmt.Errorf("production mode needs %s", strings.Join(missing, ", "))
		}
		return c, nil
	}
	if c.APIKey == "" {
		c.APIKey = devKey
	}
	if c.APISecret == "" {
		c.APISecret = devSecret
	}
	if c.EncryptionKey == nil {
		sum := sha256.Sum256([]byte("restock-relay development key: " + c.APISecret))
		c.EncryptionKey = sum[:]
	}
	return c, nil
}

// Secrets lists the Shopify secrets that may sign a request: current first.
func (c Config) Secrets() []string {
	if c.PreviousSecret != "" {
		return []string{c.APISecret, c.PreviousSecret}
	}
	return []string{c.APISecret}
}

// LogValue masks secrets when the effective configuration is logged.
func (c Config) LogValue() slog.Value {
	mask := func(s string) string {
		if s == "" {
			return "(unset)"
		}
		return "(set)"
	}
	mail := "sendgrid"
	if c.SendGridAPIKey == "" {
		mail = "outbox " + c.OutboxDir
	}
	db := "sqlite"
	if strings.HasPrefix(c.DatabaseURL, "postgres") {
		db = "postgres"
	}
	return slog.GroupValue(
		slog.String("env", c.Env), slog.Int("port", c.Port), slog.String("app_url", c.AppURL),
		slog.String("database", db), slog.String("api_key", c.APIKey), slog.String("api_secret", mask(c.APISecret)),
		slog.String("api_version", c.APIVersion), slog.String("admin_url", c.AdminURL), slog.String("mail", mail),
		slog.String("sendgrid_url", c.SendGridAPIURL), slog.String("mail_from", c.MailFrom),
	)
}
