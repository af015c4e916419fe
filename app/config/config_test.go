package config

import (
	"strings"
	"testing"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestLoadDefaults(t *testing.T) {
	t.Parallel()
	c, err := Load(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.Port != 8080 || c.APIVersion != "2026-10" || c.DatabaseURL != "" || c.SendGridAPIKey != "" || len(c.EncryptionKey) != 32 {
		t.Fatalf("defaults: %+v", c)
	}
	if c.AppURL != "http://localhost:8080" {
		t.Fatalf("AppURL = %q", c.AppURL)
	}
}

func TestLoadShopifyCLINames(t *testing.T) {
	t.Parallel()
	c, err := Load(env(map[string]string{"SCOPES": "read_products", "HOST": "abc.trycloudflare.com", "BACKEND_PORT": "3456", "SHOPIFY_API_KEY": "k", "SHOPIFY_API_SECRET": "s"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Scopes != "read_products" || c.Port != 3456 || c.AppURL != "https://abc.trycloudflare.com" || c.APIKey != "k" {
		t.Fatalf("got %+v", c)
	}
}

func TestProductionRefusesMissingSecrets(t *testing.T) {
	t.Parallel()
	key := "MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTIzNDU2Nzg5MDE=" // 32 bytes
	full := map[string]string{"APP_ENV": "production", "SHOPIFY_API_KEY": "k", "SHOPIFY_API_SECRET": "s", "SENDGRID_API_KEY": "SG.x",
		"ENCRYPTION_KEY": key, "DATABASE_URL": "postgres://u@db/restock", "APP_URL": "https://restock.example", "MAIL_FROM": "alerts@restock.example"}
	if _, err := Load(env(full)); err != nil {
		t.Fatalf("complete production config refused: %v", err)
	}
	for _, name := range []string{"SHOPIFY_API_KEY", "SHOPIFY_API_SECRET", "SENDGRID_API_KEY", "ENCRYPTION_KEY", "DATABASE_URL", "APP_URL", "MAIL_FROM"} {
		m := map[string]string{}
		for k, v := range full {
			m[k] = v
		}
		delete(m, name)
		_, err := Load(env(m))
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("without %s: err = %v, want it named", name, err)
		}
	}
	m := map[string]string{}
	for k, v := range full {
		m[k] = v
	}
	m["DATABASE_URL"] = "sqlite:./x.db"
	if _, err := Load(env(m)); err == nil {
		t.Error("production on SQLite accepted")
	}
}

func TestLoadRejectsBadValues(t *testing.T) {
	t.Parallel()
	for _, m := range []map[string]string{
		{"PORT": "eighty"}, {"APP_ENV": "staging"}, {"ENCRYPTION_KEY": "c2hvcnQ="}, {"LOG_LEVEL": "loud"},
	} {
		if _, err := Load(env(m)); err == nil {
			t.Errorf("%v accepted", m)
		}
	}
}
