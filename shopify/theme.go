package shopify

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
)

// ThemeBlocks says where a theme app extension's blocks are placed in the
// shop's published theme.
type ThemeBlocks struct {
	// ThemeName is the published theme's name ("" if the shop has none).
	ThemeName string
	// Blocks are the handles of app blocks placed in a JSON template
	// (templates/*.json), such as "notify-me".
	Blocks []string
	// Embeds are the handles of app embeds switched on in
	// config/settings_data.json, such as "notify-embed".
	Embeds []string
}

// Has reports whether handle is placed as a block or enabled as an embed.
func (t ThemeBlocks) Has(handle string) bool {
	for _, h := range append(append([]string(nil), t.Blocks...), t.Embeds...) {
		if h == handle {
			return true
		}
	}
	return false
}

// Needs read_themes. Files are JSON templates and the theme settings, the
// two places Shopify stores app blocks and app embeds.
const themeBlocksQuery = `query ThemeAppBlocks {
  themes(first: 1, roles: [MAIN]) {
    nodes {
      name
      files(filenames: ["templates/*.json", "config/settings_data.json"], first: 100) {
        nodes {
          filename
          body { ... on OnlineStoreThemeFileBodyText { content } }
        }
      }
    }
  }
}`

// ThemeAppBlocks reads the published theme's templates and settings and
// lists the app blocks and embeds of this app's extensions placed in them
// (any extension whose block type starts with shopify://apps/). It needs
// the read_themes scope.
func (c *AdminClient) ThemeAppBlocks(ctx context.Context) (ThemeBlocks, error) {
	var data struct {
		Themes struct {
			Nodes []struct {
				Name  string `json:"name"`
				Files struct {
					Nodes []struct {
						Filename string `json:"filename"`
						Body     struct {
							Content string `json:"content"`
						} `json:"body"`
					} `json:"nodes"`
				} `json:"files"`
			} `json:"nodes"`
		} `json:"themes"`
	}
	if err := c.query(ctx, "ThemeAppBlocks", themeBlocksQuery, nil, &data); err != nil {
		return ThemeBlocks{}, err
	}
	var out ThemeBlocks
	if len(data.Themes.Nodes) == 0 {
		return out, nil
	}
	th := data.Themes.Nodes[0]
	out.ThemeName = th.Name
	seen := map[string]bool{}
	for _, f := range th.Files.Nodes {
		embeds := f.Filename == "config/settings_data.json"
		for _, h := range AppBlockHandles(f.Body.Content) {
			key := fmt.Sprint(embeds, h)
			if seen[key] {
				continue
			}
			seen[key] = true
			if embeds {
				out.Embeds = append(out.Embeds, h)
			} else {
				out.Blocks = append(out.Blocks, h)
			}
		}
	}
	return out, nil
}

// AppBlockHandles lists the handles of enabled app blocks in one theme JSON
// file: every object whose "type" is shopify://apps/{app}/blocks/{handle}/{id}
// and whose "disabled" is not true. Shopify writes a /* comment */ at the
// top of generated JSON templates; it is skipped. A file that does not
// parse has no blocks.
func AppBlockHandles(content string) []string {
	content = strings.TrimSpace(content)
	if strings.HasPrefix(content, "/*") {
		if end := strings.Index(content, "*/"); end >= 0 {
			content = content[end+2:]
		}
	}
	var doc any
	if err := json.Unmarshal([]byte(content), &doc); err != nil {
		return nil
	}
	var out []string
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if t, ok := v["type"].(string); ok {
				if rest, ok := strings.CutPrefix(t, "shopify://apps/"); ok {
					parts := strings.Split(rest, "/")
					if len(parts) >= 3 && parts[1] == "blocks" && v["disabled"] != true {
						out = append(out, parts[2])
					}
				}
			}
			for _, c := range v {
				walk(c)
			}
		case []any:
			for _, c := range v {
				walk(c)
			}
		}
	}
	walk(doc)
	return out
}
