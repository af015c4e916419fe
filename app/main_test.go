package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/restockrelay/restockrelay/app/store"
)

func envMap(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestShopAddAndMigrate(t *testing.T) {
	t.Parallel()
	db := "sqlite:" + filepath.Join(t.TempDir(), "cli.db")
	env := envMap(map[string]string{"DATABASE_URL": db})
	var out, errOut bytes.Buffer
	if err := run(context.Background(), []string{"migrate"}, env, &out, &errOut); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	if err := run(context.Background(), []string{"shop", "add", "--shop", " My-Store.myshopify.com ", "--token", "shpat_secret_value"}, env, &out, &errOut); err != nil {
		t.Fatalf("shop add: %v", err)
	}
	if !strings.Contains(out.String(), "my-store.myshopify.com registered") {
		t.Fatalf("output: %s", out.String())
	}
	st, err := store.Open(context.Background(), db, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	sh, err := store.ShopByDomain(context.Background(), st.DB, "my-store.myshopify.com")
	if err != nil {
		t.Fatal(err)
	}
	if sh.AccessToken == "" || strings.Contains(sh.AccessToken, "shpat_secret_value") {
		t.Fatalf("token stored as %q, want it sealed", sh.AccessToken)
	}
	// Re-adding renames and changes the currency; odd input is refused.
	if err := run(context.Background(), []string{"shop", "add", "--shop", "my-store.myshopify.com", "--token", "t2", "--name", "Renamed", "--currency", "eur"}, env, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	if sh, _ = store.ShopByDomain(context.Background(), st.DB, "my-store.myshopify.com"); sh.Name != "Renamed" || sh.Currency != "EUR" {
		t.Fatalf("re-added shop: name %q currency %q", sh.Name, sh.Currency)
	}
	for _, args := range [][]string{
		{"shop", "add", "--shop", "x.myshopify.com", "--token", "x", "--currency", "'; DROP TABLE shops;--"},
		{"shop", "add", "--shop", strings.Repeat("a", 64) + ".myshopify.com", "--token", "x"},
		{"shop", "add", "--shop", "x.myshopify.com", "--token", "x", "extra"},
		{"shop", "add", "--shop", "evil.com", "--token", "x"},
		{"shop", "add", "--shop", "x.myshopify.com.evil.com", "--token", "x"},
		{"shop", "add", "--shop", "ok.myshopify.com"},
		{"shop", "remove"},
		{"bogus"},
	} {
		if err := run(context.Background(), args, env, &out, &errOut); err == nil {
			t.Errorf("%v accepted", args)
		}
	}
}

func TestProductionRefusesToStartWithoutSecrets(t *testing.T) {
	t.Parallel()
	err := run(context.Background(), []string{"serve"}, envMap(map[string]string{"APP_ENV": "production"}), &bytes.Buffer{}, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "SHOPIFY_API_SECRET") || !strings.Contains(err.Error(), "SENDGRID_API_KEY") {
		t.Fatalf("err = %v, want the missing settings named", err)
	}
}

func TestDemoTellsTheStory(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	if err := run(context.Background(), []string{"demo"}, envMap(nil), &out, &bytes.Buffer{}); err != nil {
		t.Fatalf("demo: %v\n%s", err, out.String())
	}
	for _, want := range []string{"201", "already_subscribed", "back in stock", "Going fast", "converted", "revenue 39.98 USD", "0 failed schema validation"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("demo output lacks %q", want)
		}
	}
}
