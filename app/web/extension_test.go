package web_test

// Static checks of the theme app extension (extensions/notify-me), the storefront side of
// POST /proxy/subscribe. scripts/theme-check.sh runs Shopify's own Theme Check on it; these
// run without Node.

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
)

const extensionDir = "../../extensions/notify-me"

// defaultProxyPath is the storefront path of the subscribe route: shopify.app.toml's
// [app_proxy] prefix "apps", subpath "restock", then /subscribe.
const defaultProxyPath = "/apps/restock/subscribe"

func TestExtensionJavaScriptSize(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(extensionDir, "assets", "*.js"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no JavaScript in extensions/notify-me/assets")
	}
	for _, f := range files {
		fi, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		// Under 10 KB before compression, as Theme Check's AssetSizeAppBlockJavaScript
		// counts it (an error in the theme-app-extension config): 10,000 bytes.
		if fi.Size() > 10000 {
			t.Errorf("%s is %d bytes; keep it within 10,000", filepath.Base(f), fi.Size())
		}
	}
}

func TestExtensionLocalesMatchDefault(t *testing.T) {
	for _, kind := range []string{".json", ".schema.json"} {
		def := filepath.Join(extensionDir, "locales", "en.default"+kind)
		want := localeKeys(t, def)
		if len(want) == 0 {
			t.Fatalf("%s has no strings", def)
		}
		for _, lang := range []string{"de", "fr", "es"} {
			if _, err := os.Stat(filepath.Join(extensionDir, "locales", lang+kind)); err != nil {
				t.Errorf("missing locales/%s%s: %v", lang, kind, err)
			}
		}
		files, err := filepath.Glob(filepath.Join(extensionDir, "locales", "*"+kind))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			if kind == ".json" && strings.HasSuffix(f, ".schema.json") {
				continue
			}
			got := localeKeys(t, f)
			if missing, extra := diffKeys(want, got); len(missing)+len(extra) > 0 {
				t.Errorf("%s: keys differ from en.default%s: missing %v, extra %v", filepath.Base(f), kind, missing, extra)
			}
		}
	}
}

func TestExtensionBlockSchemas(t *testing.T) {
	schemaKeys := localeKeys(t, filepath.Join(extensionDir, "locales", "en.default.schema.json"))
	tKey := regexp.MustCompile(`"t:([^"]+)"`)
	for _, name := range []string{"notify-me.liquid", "notify-embed.liquid"} {
		t.Run(name, func(t *testing.T) {
			src, err := os.ReadFile(filepath.Join(extensionDir, "blocks", name))
			if err != nil {
				t.Fatal(err)
			}
			raw := schemaJSON(t, string(src))
			var schema struct {
				Name       string `json:"name"`
				Target     string `json:"target"`
				JavaScript string `json:"javascript"`
				Stylesheet string `json:"stylesheet"`
				Settings   []struct {
					ID      string `json:"id"`
					Type    string `json:"type"`
					Default any    `json:"default"`
				} `json:"settings"`
			}
			if err := json.Unmarshal([]byte(raw), &schema); err != nil {
				t.Fatalf("the {%% schema %%} of %s is not valid JSON: %v", name, err)
			}
			if !slices.Contains([]string{"section", "body", "head", "compliance_head"}, schema.Target) {
				t.Errorf("target %q", schema.Target)
			}
			for _, a := range []string{schema.JavaScript, schema.Stylesheet} {
				if a == "" {
					continue
				}
				if _, err := os.Stat(filepath.Join(extensionDir, "assets", a)); err != nil {
					t.Errorf("asset %s: %v", a, err)
				}
			}
			ids := map[string]bool{}
			var proxy any
			for _, s := range schema.Settings {
				if s.ID == "" {
					continue
				}
				if ids[s.ID] {
					t.Errorf("setting id %q twice", s.ID)
				}
				ids[s.ID] = true
				if s.ID == "proxy_path" {
					proxy = s.Default
					if s.Type != "text" {
						t.Errorf("proxy_path is a %q setting, want text", s.Type)
					}
				}
			}
			if proxy != defaultProxyPath {
				t.Errorf("proxy_path setting default = %v, want %s", proxy, defaultProxyPath)
			}
			// Every schema translation exists, and the block name fits the editor's 25 characters.
			for _, m := range tKey.FindAllStringSubmatch(raw, -1) {
				if !schemaKeys[m[1]] {
					t.Errorf("t:%s is not in en.default.schema.json", m[1])
				}
			}
			if k, ok := strings.CutPrefix(schema.Name, "t:"); ok {
				files, _ := filepath.Glob(filepath.Join(extensionDir, "locales", "*.schema.json"))
				for _, f := range files {
					if n := lookup(t, f, k); n == "" || len([]rune(n)) > 25 {
						t.Errorf("%s: block name %q (%s) is empty or longer than 25 characters", filepath.Base(f), n, k)
					}
				}
			} else if len([]rune(schema.Name)) > 25 {
				t.Errorf("block name %q is longer than 25 characters", schema.Name)
			}
		})
	}
}

// schemaJSON is the text between {% schema %} and {% endschema %} (with or without
// whitespace control).
func schemaJSON(t *testing.T, src string) string {
	t.Helper()
	m := regexp.MustCompile(`(?s)\{%-?\s*schema\s*-?%\}(.*?)\{%-?\s*endschema\s*-?%\}`).FindAllStringSubmatch(src, -1)
	if len(m) != 1 {
		t.Fatalf("want one {%% schema %%} tag, found %d", len(m))
	}
	return m[0][1]
}

// localeKeys reads a locale file and returns its dotted keys (leaves only).
func localeKeys(t *testing.T, path string) map[string]bool {
	t.Helper()
	keys := map[string]bool{}
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, c := range x {
				if prefix != "" {
					k = prefix + "." + k
				}
				walk(k, c)
			}
		case string:
			keys[prefix] = true
		default:
			t.Errorf("%s: %s is a %T, want a string or an object", filepath.Base(path), prefix, v)
		}
	}
	walk("", readJSON(t, path))
	return keys
}

func lookup(t *testing.T, path, key string) string {
	t.Helper()
	var v any = readJSON(t, path)
	for _, part := range strings.Split(key, ".") {
		m, _ := v.(map[string]any)
		v = m[part]
	}
	s, _ := v.(string)
	return s
}

func readJSON(t *testing.T, path string) any {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("%s is not valid JSON: %v", filepath.Base(path), err)
	}
	return v
}

func diffKeys(want, got map[string]bool) (missing, extra []string) {
	for k := range want {
		if !got[k] {
			missing = append(missing, k)
		}
	}
	for k := range got {
		if !want[k] {
			extra = append(extra, k)
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	return missing, extra
}
