# Restock Relay. `make run` starts the app on its embedded defaults (SQLite,
# outbox mail); `make test` runs every test on SQLite and PostgreSQL.
GO ?= go
GOFLAGS ?=
PKGS := ./...

.DEFAULT_GOAL := help

help: ## list the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "} {printf "  %-14s %s\n", $$1, $$2}'

run: build ## start the app on http://localhost:8080 (SQLite in ./data, emails to ./data/outbox)
	exec ./bin/restockrelay serve

build: ## build bin/restockrelay
	$(GO) build -o bin/restockrelay ./app

demo: ## tell the whole restock story against in-process fakes
	$(GO) run ./app demo

test: ## run every test, on SQLite and PostgreSQL (starts a private PostgreSQL if needed), browser tests in Chromium, and Shopify's Theme Check on the extension
	./scripts/ensure-chromium.sh
	./scripts/theme-check.sh
	$(MAKE) --no-print-directory fuzz FUZZTIME=3s
	REQUIRE_POSTGRES=1 ./scripts/test-postgres.sh $(GO) test $(GOFLAGS) -count=1 -timeout 20m $(PKGS)

fuzz: ## fuzz the signature verifiers and the shop-domain check (FUZZTIME each, default 1m)
	for f in FuzzVerifyWebhook FuzzVerifyProxyQuery FuzzVerifyOAuthQuery FuzzNormalizeShop; do \
		$(GO) test ./shopify -run '^$$' -fuzz "^$$f$$" -fuzztime $(or $(FUZZTIME),1m) || exit 1; \
	done

theme-check: ## Shopify's Theme Check on extensions/notify-me (npm ci on first use)
	./scripts/theme-check.sh

test-race: ## the tests with the race detector
	REQUIRE_POSTGRES=1 ./scripts/test-postgres.sh $(GO) test $(GOFLAGS) -race -count=1 -timeout 30m $(PKGS)

test-postgres: ## only the tests that touch a database, on both dialects
	REQUIRE_POSTGRES=1 ./scripts/test-postgres.sh $(GO) test $(GOFLAGS) -count=1 ./app/...

bench: ## benchmarks: webhook intake and a 100,000-shopper restock (PostgreSQL)
	REQUIRE_POSTGRES=1 ./scripts/test-postgres.sh $(GO) test -run '^$$' -bench . -benchtime 1x -timeout 30m ./app/...

lint: ## gofmt, go vet, staticcheck
	@test -z "$$(gofmt -l .)" || (gofmt -l . && exit 1)
	$(GO) vet $(PKGS)
	$(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2 $(PKGS)

.PHONY: help run build demo test fuzz theme-check test-race test-postgres bench lint
