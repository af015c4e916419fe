package config

import (
	"bufio"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// The Shopify CLI files live at the repository root (shopify.app.toml) and
// next to the main package (app/shopify.web.toml); tests run in app/config.
const (
	appTOMLPath = "../../shopify.app.toml"
	webTOMLPath = "../shopify.web.toml"
)

// handledTopics is app/restock/webhook.go's handledTopics, copied.
// TestHandledTopicsCopyInSync fails when the two drift apart.
var handledTopics = []string{
	"inventory_levels/update", "inventory_levels/connect", "inventory_levels/disconnect",
	"variants/in_stock", "variants/out_of_stock", "orders/create",
	"products/update", "app/uninstalled",
	"customers/redact", "shop/redact", "customers/data_request",
}

var complianceTopics = []string{"customers/data_request", "customers/redact", "shop/redact"}

// tomlDoc is the small subset of TOML these two files use: [table] and
// [[array.of.tables]] headers, and one-line key = value pairs whose values
// are strings, booleans, numbers or one-line arrays of strings. Anything
// else is an error, so a file this reader cannot follow fails the test
// instead of being half read.
type tomlDoc struct {
	tables map[string]map[string]string   // "" is the root table
	arrays map[string][]map[string]string // [[name]] entries in order
}

func (d tomlDoc) table(name string) map[string]string { return d.tables[name] }

func readTOML(t *testing.T, path string) tomlDoc {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	doc := tomlDoc{tables: map[string]map[string]string{"": {}}, arrays: map[string][]map[string]string{}}
	cur := doc.tables[""]
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(stripComment(sc.Text()))
		where := fmt.Sprintf("%s:%d", path, n)
		switch {
		case line == "":
		case strings.HasPrefix(line, "[["):
			name, ok := strings.CutSuffix(strings.TrimPrefix(line, "[["), "]]")
			if !ok {
				t.Fatalf("%s: bad array-of-tables header %q", where, line)
			}
			cur = map[string]string{}
			doc.arrays[name] = append(doc.arrays[name], cur)
		case strings.HasPrefix(line, "["):
			name, ok := strings.CutSuffix(strings.TrimPrefix(line, "["), "]")
			if !ok {
				t.Fatalf("%s: bad table header %q", where, line)
			}
			if _, dup := doc.tables[name]; dup {
				t.Fatalf("%s: table [%s] defined twice", where, name)
			}
			cur = map[string]string{}
			doc.tables[name] = cur
		default:
			key, val, ok := strings.Cut(line, "=")
			key, val = strings.TrimSpace(key), strings.TrimSpace(val)
			if !ok || key == "" || val == "" {
				t.Fatalf("%s: expected key = value, got %q", where, line)
			}
			if strings.HasPrefix(val, "[") && !strings.HasSuffix(val, "]") {
				t.Fatalf("%s: multi-line arrays are beyond this reader: keep %s on one line", where, key)
			}
			if _, dup := cur[key]; dup {
				t.Fatalf("%s: key %s defined twice", where, key)
			}
			cur[key] = val
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return doc
}

// stripComment cuts a # comment, leaving a # inside a quoted string alone.
func stripComment(line string) string {
	inString := false
	for i := 0; i < len(line); i++ {
		switch c := line[i]; {
		case c == '\\' && inString:
			i++
		case c == '"':
			inString = !inString
		case c == '#' && !inString:
			return line[:i]
		}
	}
	return line
}

func tomlString(t *testing.T, where, raw string) string {
	t.Helper()
	if !strings.HasPrefix(raw, `"`) {
		t.Fatalf("%s: want a quoted string, got %s", where, raw)
	}
	s, err := strconv.Unquote(raw)
	if err != nil {
		t.Fatalf("%s: %s: %v", where, raw, err)
	}
	return s
}

func tomlStrings(t *testing.T, where, raw string) []string {
	t.Helper()
	inner, okOpen := strings.CutPrefix(raw, "[")
	inner, okClose := strings.CutSuffix(inner, "]")
	if !okOpen || !okClose {
		t.Fatalf("%s: want an array of strings, got %s", where, raw)
	}
	var out []string
	for item := range strings.SplitSeq(inner, ",") {
		if item = strings.TrimSpace(item); item != "" { // a trailing comma is allowed
			out = append(out, tomlString(t, where, item))
		}
	}
	return out
}

func wantValue(t *testing.T, doc tomlDoc, table, key, want string) {
	t.Helper()
	got, ok := doc.table(table)[key]
	if !ok {
		t.Errorf("[%s] %s is missing; want %s", table, key, want)
	} else if got != want {
		t.Errorf("[%s] %s = %s; want %s", table, key, got, want)
	}
}

func TestHandledTopicsCopyInSync(t *testing.T) {
	t.Parallel()
	// The constants' values, from shopify/payload.go.
	consts := map[string]string{}
	payload, err := parser.ParseFile(token.NewFileSet(), "../../shopify/payload.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	ast.Inspect(payload, func(n ast.Node) bool {
		if vs, ok := n.(*ast.ValueSpec); ok {
			for i, name := range vs.Names {
				if i < len(vs.Values) {
					if lit, ok := vs.Values[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
						consts[name.Name], _ = strconv.Unquote(lit.Value)
					}
				}
			}
		}
		return true
	})
	// The keys of handledTopics, from app/restock/webhook.go.
	webhook, err := parser.ParseFile(token.NewFileSet(), "../restock/webhook.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var inSource []string
	found := false
	ast.Inspect(webhook, func(n ast.Node) bool {
		vs, ok := n.(*ast.ValueSpec)
		if !ok || len(vs.Names) != 1 || vs.Names[0].Name != "handledTopics" || len(vs.Values) != 1 {
			return true
		}
		found = true
		lit, ok := vs.Values[0].(*ast.CompositeLit)
		if !ok {
			t.Fatalf("handledTopics is no longer a map literal")
		}
		for _, elt := range lit.Elts {
			kv, ok := elt.(*ast.KeyValueExpr)
			if !ok {
				t.Fatalf("handledTopics: unexpected element %T", elt)
			}
			switch k := kv.Key.(type) {
			case *ast.SelectorExpr: // shopify.TopicX
				v, ok := consts[k.Sel.Name]
				if !ok {
					t.Fatalf("handledTopics: %s is not a string constant of shopify/payload.go", k.Sel.Name)
				}
				inSource = append(inSource, v)
			case *ast.BasicLit:
				v, _ := strconv.Unquote(k.Value)
				inSource = append(inSource, v)
			default:
				t.Fatalf("handledTopics: unexpected key %T", kv.Key)
			}
		}
		return false
	})
	if !found {
		t.Fatal("app/restock/webhook.go no longer declares handledTopics")
	}
	if len(inSource) != len(handledTopics) {
		t.Fatalf("app/restock/webhook.go handles %d topics, this test's copy lists %d: update the copy and shopify.app.toml", len(inSource), len(handledTopics))
	}
	got, want := slices.Sorted(slices.Values(inSource)), slices.Sorted(slices.Values(handledTopics))
	if !slices.Equal(got, want) {
		t.Fatalf("app/restock/webhook.go handles %v, this test's copy lists %v", got, want)
	}
}

func TestShopifyAppTOML(t *testing.T) {
	t.Parallel()
	doc := readTOML(t, appTOMLPath)
	def, err := Load(func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}

	root := doc.table("")
	for _, key := range []string{"client_id", "name", "application_url"} {
		if _, ok := root[key]; !ok {
			t.Errorf("%s is missing", key)
		}
	}
	wantValue(t, doc, "", "name", `"Restock Relay"`)
	wantValue(t, doc, "", "embedded", "true")
	wantValue(t, doc, "build", "automatically_update_urls_on_dev", "true")
	appURL := tomlString(t, "application_url", root["application_url"])
	if !strings.HasPrefix(appURL, "https://") {
		t.Errorf("application_url = %q; want an https URL", appURL)
	}

	// Scopes: exactly what the Go server asks for by default.
	scopes := tomlString(t, "access_scopes.scopes", doc.table("access_scopes")["scopes"])
	if scopes != def.Scopes {
		t.Errorf("[access_scopes] scopes = %q; config.Load's default SHOPIFY_SCOPES is %q", scopes, def.Scopes)
	}
	wantValue(t, doc, "access_scopes", "use_legacy_install_flow", "false")

	// Redirect URLs: the server's OAuth callback.
	redirects := tomlStrings(t, "auth.redirect_urls", doc.table("auth")["redirect_urls"])
	if len(redirects) == 0 {
		t.Error("[auth] redirect_urls is empty")
	}
	for _, u := range redirects {
		if !strings.HasPrefix(u, "https://") || !strings.HasSuffix(u, "/auth/callback") {
			t.Errorf("[auth] redirect_urls has %q; want https://…/auth/callback", u)
		}
	}

	// Webhooks: the API version the server pins, every handled topic
	// subscribed, nothing subscribed that the server would ignore.
	version := tomlString(t, "webhooks.api_version", doc.table("webhooks")["api_version"])
	if version != "2026-10" || version != def.APIVersion {
		t.Errorf("[webhooks] api_version = %q; want 2026-10, config.Load's default SHOPIFY_API_VERSION (%s)", version, def.APIVersion)
	}
	subs := doc.arrays["webhooks.subscriptions"]
	if len(subs) == 0 {
		t.Fatal("no [[webhooks.subscriptions]]")
	}
	topics := map[string]int{}
	compliance := map[string]int{}
	for i, sub := range subs {
		where := fmt.Sprintf("webhooks.subscriptions[%d]", i)
		if uri := tomlString(t, where+".uri", sub["uri"]); uri != "/webhooks" {
			t.Errorf("%s uri = %q; every topic is served by POST /webhooks", where, uri)
		}
		if raw, ok := sub["topics"]; ok {
			for _, tp := range tomlStrings(t, where+".topics", raw) {
				topics[tp]++
			}
		}
		if raw, ok := sub["compliance_topics"]; ok {
			for _, tp := range tomlStrings(t, where+".compliance_topics", raw) {
				compliance[tp]++
			}
		}
		for key := range sub {
			if !slices.Contains([]string{"topics", "compliance_topics", "uri", "include_fields", "filter", "name"}, key) {
				t.Errorf("%s has %s, which Shopify CLI's webhook subscription schema does not know", where, key)
			}
		}
	}
	for _, tp := range handledTopics {
		if slices.Contains(complianceTopics, tp) {
			continue
		}
		if topics[tp] != 1 {
			t.Errorf("topic %s is subscribed %d times; want once", tp, topics[tp])
		}
	}
	for _, tp := range complianceTopics {
		if compliance[tp] != 1 {
			t.Errorf("compliance topic %s is subscribed %d times; want once", tp, compliance[tp])
		}
		if !slices.Contains(handledTopics, tp) {
			t.Errorf("compliance topic %s is not handled by app/restock/webhook.go", tp)
		}
	}
	for tp := range topics {
		if !slices.Contains(handledTopics, tp) || slices.Contains(complianceTopics, tp) {
			t.Errorf("topic %s is subscribed but the server does not handle it (or it belongs in compliance_topics)", tp)
		}
	}
	for tp := range compliance {
		if !slices.Contains(complianceTopics, tp) {
			t.Errorf("compliance_topics lists %s, which is not a compliance topic", tp)
		}
	}

	// App proxy: the storefront's form at /apps/restock/* → /proxy/*.
	wantValue(t, doc, "app_proxy", "url", `"/proxy"`)
	wantValue(t, doc, "app_proxy", "prefix", `"apps"`)
	wantValue(t, doc, "app_proxy", "subpath", `"restock"`)
}

func TestShopifyWebTOML(t *testing.T) {
	t.Parallel()
	doc := readTOML(t, webTOMLPath)
	wantValue(t, doc, "", "roles", `["frontend", "backend"]`)
	wantValue(t, doc, "", "webhooks_path", `"/webhooks"`)
	wantValue(t, doc, "", "auth_callback_path", `"/auth/callback"`)
	if _, ok := doc.table("")["name"]; !ok {
		t.Error("name is missing")
	}

	// Shopify CLI runs commands.dev in the folder of shopify.web.toml,
	// split on spaces, without a shell. It must start the main package
	// (the folder of app/main.go) with the serve command.
	dev := tomlString(t, "commands.dev", doc.table("commands")["dev"])
	if strings.Contains(dev, "&&") {
		t.Fatalf("commands.dev = %q: keep it one command", dev)
	}
	args := strings.Fields(dev)
	if len(args) < 3 || args[0] != "go" || args[1] != "run" {
		t.Fatalf("commands.dev = %q; want go run …", dev)
	}
	cwd, err := filepath.Abs(filepath.Dir(webTOMLPath))
	if err != nil {
		t.Fatal(err)
	}
	args = args[2:]
	if args[0] == "-C" && len(args) > 1 {
		cwd = filepath.Join(cwd, args[1])
		args = args[2:]
	}
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		t.Fatalf("commands.dev = %q: want the package right after go run [-C dir]", dev)
	}
	mainDir, err := filepath.Abs("..") // app/, where main.go is
	if err != nil {
		t.Fatal(err)
	}
	if pkg := filepath.Join(cwd, args[0]); pkg != mainDir {
		t.Errorf("commands.dev = %q, run in app/ (the folder of shopify.web.toml), starts %s; want the main package %s", dev, pkg, mainDir)
	}
	if _, err := os.Stat(filepath.Join(mainDir, "main.go")); err != nil {
		t.Errorf("main package: %v", err)
	}
	if len(args) < 2 || args[1] != "serve" {
		t.Errorf("commands.dev = %q; want the serve command", dev)
	}
}
