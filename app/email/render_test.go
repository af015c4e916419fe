package email_test

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/net/html"

	"github.com/restockrelay/restockrelay/app/email"
)

// update rewrites the golden files under testdata/:
//
//	go test ./app/email/ -run TestRenderGolden -update
var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// The substitution keys app/restock puts in the link fields; SendGrid (or
// the outbox) replaces them per recipient.
const (
	keyClick = "-rr_click_url-"
	keyUnsub = "-rr_unsubscribe_url-"
)

const unsubscribeText = "Unsubscribe from restock emails"

func newRenderer(t *testing.T) *email.Renderer {
	t.Helper()
	r, err := email.NewRenderer()
	if err != nil {
		t.Fatalf("NewRenderer() error = %v", err)
	}
	return r
}

func defaultCopy(t *testing.T, r *email.Renderer, step int) email.Copy {
	t.Helper()
	c, ok := r.DefaultCopy(step)
	if !ok {
		t.Fatalf("DefaultCopy(%d) ok = false, want true", step)
	}
	return c
}

// fixedStep is the step data the golden files are rendered with.
func fixedStep(step int) email.StepData {
	return email.StepData{
		Step:           step,
		Lang:           "en",
		ShopName:       "Northwind Ceramics",
		ProductTitle:   "Speckled Mug",
		VariantTitle:   "Large / Blue",
		Price:          "€24.00",
		ImageURL:       "https://cdn.shopify.com/s/files/1/mug.jpg?v=17&width=600",
		ClickURL:       keyClick,
		UnsubscribeURL: keyUnsub,
		StockLeft:      3,
		WaitingCount:   42,
		BrandColor:     "#0a6e4f",
	}
}

func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden %s: %v (run with -update to create it)", path, err)
	}
	if got != string(want) {
		t.Errorf("%s differs from the golden file (run with -update if the change is intended)\n--- got ---\n%s\n--- want ---\n%s", name, got, want)
	}
}

func TestRenderGolden(t *testing.T) {
	t.Parallel()
	r := newRenderer(t)
	tests := []struct {
		step        int
		wantSubject string
	}{
		{step: 1, wantSubject: "Speckled Mug is back in stock"},
		{step: 2, wantSubject: "Going fast: Speckled Mug"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("step%d", tt.step), func(t *testing.T) {
			t.Parallel()
			got, err := r.Render(fixedStep(tt.step), defaultCopy(t, r, tt.step))
			if err != nil {
				t.Fatalf("Render() error = %v", err)
			}
			if got.Subject != tt.wantSubject {
				t.Errorf("Subject = %q, want %q", got.Subject, tt.wantSubject)
			}
			base := fmt.Sprintf("step%d", tt.step)
			checkGolden(t, base+".html.golden", got.HTML)
			checkGolden(t, base+".txt.golden", got.Text)
		})
	}
}

// ---- HTML inspection helpers ----

type htmlDoc struct {
	root *html.Node
}

func parseHTML(t *testing.T, s string) htmlDoc {
	t.Helper()
	n, err := html.Parse(strings.NewReader(s))
	if err != nil {
		t.Fatalf("html.Parse() error = %v", err)
	}
	return htmlDoc{root: n}
}

func (d htmlDoc) walk(f func(*html.Node)) {
	var rec func(*html.Node)
	rec = func(n *html.Node) {
		f(n)
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			rec(c)
		}
	}
	rec(d.root)
}

func (d htmlDoc) elements(tag string) []*html.Node {
	var out []*html.Node
	d.walk(func(n *html.Node) {
		if n.Type == html.ElementNode && n.Data == tag {
			out = append(out, n)
		}
	})
	return out
}

// texts returns the decoded text nodes (including <title>).
func (d htmlDoc) texts() []string {
	var out []string
	d.walk(func(n *html.Node) {
		if n.Type == html.TextNode {
			out = append(out, n.Data)
		}
	})
	return out
}

func attr(n *html.Node, key string) (string, bool) {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val, true
		}
	}
	return "", false
}

func textOf(n *html.Node) string {
	var b strings.Builder
	var rec func(*html.Node)
	rec = func(n *html.Node) {
		if n.Type == html.TextNode {
			b.WriteString(n.Data)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			rec(c)
		}
	}
	rec(n)
	return b.String()
}

func hasChild(n *html.Node, tag string) bool {
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		if c.Type == html.ElementNode && c.Data == tag {
			return true
		}
	}
	return false
}

// anchors describes the links of a rendered email.
type anchors struct {
	image, button, unsubscribe []string // hrefs
	other                      []string
}

func links(d htmlDoc, button string) anchors {
	var a anchors
	for _, n := range d.elements("a") {
		href, _ := attr(n, "href")
		switch {
		case hasChild(n, "img"):
			a.image = append(a.image, href)
		case textOf(n) == button:
			a.button = append(a.button, href)
		case textOf(n) == unsubscribeText:
			a.unsubscribe = append(a.unsubscribe, href)
		default:
			a.other = append(a.other, href)
		}
	}
	return a
}

func TestRenderLinksCarrySubstitutionKeys(t *testing.T) {
	t.Parallel()
	r := newRenderer(t)
	noImage := fixedStep(1)
	noImage.ImageURL = ""
	tests := []struct {
		name      string
		data      email.StepData
		wantImage []string
		wantImgs  int
	}{
		{name: "with image", data: fixedStep(1), wantImage: []string{keyClick}, wantImgs: 1},
		{name: "step 2 with image", data: fixedStep(2), wantImage: []string{keyClick}, wantImgs: 1},
		{name: "without image", data: noImage, wantImage: nil, wantImgs: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := defaultCopy(t, r, tt.data.Step)
			got, err := r.Render(tt.data, c)
			if err != nil {
				t.Fatalf("Render() error = %v", err)
			}
			doc := parseHTML(t, got.HTML)
			l := links(doc, c.Button)
			if !slices.Equal(l.image, tt.wantImage) {
				t.Errorf("image link hrefs = %q, want %q", l.image, tt.wantImage)
			}
			if want := []string{keyClick}; !slices.Equal(l.button, want) {
				t.Errorf("button hrefs = %q, want %q", l.button, want)
			}
			if want := []string{keyUnsub}; !slices.Equal(l.unsubscribe, want) {
				t.Errorf("unsubscribe hrefs = %q, want %q", l.unsubscribe, want)
			}
			if len(l.other) != 0 {
				t.Errorf("unexpected links %q", l.other)
			}
			imgs := doc.elements("img")
			if len(imgs) != tt.wantImgs {
				t.Fatalf("got %d <img>, want %d", len(imgs), tt.wantImgs)
			}
			for _, img := range imgs {
				if src, _ := attr(img, "src"); src != tt.data.ImageURL {
					t.Errorf("img src = %q, want %q", src, tt.data.ImageURL)
				}
				if alt, _ := attr(img, "alt"); alt != tt.data.ProductTitle {
					t.Errorf("img alt = %q, want %q", alt, tt.data.ProductTitle)
				}
			}
			// The keys must survive html/template's URL normalisation
			// byte for byte, or SendGrid cannot find them.
			for _, want := range []string{`href="` + keyClick + `"`, `href="` + keyUnsub + `"`} {
				if !strings.Contains(got.HTML, want) {
					t.Errorf("HTML lacks %s", want)
				}
			}
			for _, want := range []string{"\n" + c.Button + ": " + keyClick + "\n", "\nUnsubscribe: " + keyUnsub + "\n"} {
				if !strings.Contains(got.Text, want) {
					t.Errorf("Text lacks %q:\n%s", want, got.Text)
				}
			}
			// Applying a recipient's substitutions yields their links.
			rcpt := email.Recipient{Substitutions: map[string]string{
				keyClick: "https://rr.example/c/7?s=ab",
				keyUnsub: "https://rr.example/u/7?s=cd",
			}}
			applied := rcpt.Apply(got.HTML)
			if strings.Contains(applied, keyClick) || strings.Contains(applied, keyUnsub) {
				t.Errorf("substitution keys left after Apply")
			}
			al := links(parseHTML(t, applied), c.Button)
			if want := []string{"https://rr.example/c/7?s=ab"}; !slices.Equal(al.button, want) {
				t.Errorf("button hrefs after Apply = %q, want %q", al.button, want)
			}
			if want := []string{"https://rr.example/u/7?s=cd"}; !slices.Equal(al.unsubscribe, want) {
				t.Errorf("unsubscribe hrefs after Apply = %q, want %q", al.unsubscribe, want)
			}
		})
	}
}

func TestRenderEscapesMerchantText(t *testing.T) {
	t.Parallel()
	r := newRenderer(t)
	const (
		script  = `<script>alert(1)</script>`
		imgAttr = `"><img src=x onerror=alert(1)>`
		jsURL   = `javascript:alert(document.cookie)`
	)
	hostile := []string{script, imgAttr, jsURL}
	tests := []struct {
		name   string
		set    func(*email.StepData, *email.Copy, string)
		inText bool // the text part shows it (the preheader is HTML-only)
	}{
		{name: "subject", set: func(_ *email.StepData, c *email.Copy, v string) { c.Subject = v }},
		{name: "preheader", set: func(_ *email.StepData, c *email.Copy, v string) { c.Preheader = v }},
		{name: "heading", set: func(_ *email.StepData, c *email.Copy, v string) { c.Heading = "Back: " + v }, inText: true},
		{name: "body", set: func(_ *email.StepData, c *email.Copy, v string) { c.Body = "Hello " + v + " bye" }, inText: true},
		{name: "button", set: func(_ *email.StepData, c *email.Copy, v string) { c.Button = v }, inText: true},
		{name: "product title", set: func(d *email.StepData, _ *email.Copy, v string) { d.ProductTitle = v }, inText: true},
		{name: "variant title", set: func(d *email.StepData, _ *email.Copy, v string) { d.VariantTitle = v }, inText: true},
		{name: "shop name", set: func(d *email.StepData, _ *email.Copy, v string) { d.ShopName = v }, inText: true},
		{name: "price", set: func(d *email.StepData, _ *email.Copy, v string) { d.Price = v }, inText: true},
	}
	for _, tt := range tests {
		for _, v := range hostile {
			t.Run(tt.name+"/"+v, func(t *testing.T) {
				t.Parallel()
				d := fixedStep(2)
				c := defaultCopy(t, r, 2)
				tt.set(&d, &c, v)
				got, err := r.Render(d, c)
				if err != nil {
					t.Fatalf("Render() error = %v", err)
				}
				for _, raw := range []string{"<script", "<img src=x", "onerror=alert(1)>", `href="javascript:`, `src="javascript:`} {
					if strings.Contains(strings.ToLower(got.HTML), raw) {
						t.Errorf("HTML contains raw %q:\n%s", raw, got.HTML)
					}
				}
				doc := parseHTML(t, got.HTML)
				if n := len(doc.elements("script")); n != 0 {
					t.Errorf("HTML has %d <script> elements, want 0", n)
				}
				imgs := doc.elements("img")
				if len(imgs) != 1 {
					t.Fatalf("HTML has %d <img> elements, want 1", len(imgs))
				}
				if src, _ := attr(imgs[0], "src"); src != d.ImageURL {
					t.Errorf("img src = %q, want %q", src, d.ImageURL)
				}
				for _, img := range imgs {
					if _, ok := attr(img, "onerror"); ok {
						t.Errorf("img has an onerror attribute")
					}
				}
				for _, a := range doc.elements("a") {
					href, _ := attr(a, "href")
					if href != keyClick && href != keyUnsub {
						t.Errorf("link href = %q, want only %q or %q", href, keyClick, keyUnsub)
					}
				}
				// The text survives as text: decoded, it is verbatim.
				found := false
				for _, s := range doc.texts() {
					if strings.Contains(s, v) {
						found = true
					}
				}
				if !found {
					t.Errorf("HTML text nodes lack %q verbatim:\n%s", v, got.HTML)
				}
				if tt.name == "subject" && got.Subject != v {
					t.Errorf("Subject = %q, want %q", got.Subject, v)
				}
				if tt.inText && !strings.Contains(got.Text, v) {
					t.Errorf("Text lacks %q verbatim:\n%s", v, got.Text)
				}
			})
		}
	}
}

func TestRenderStockLine(t *testing.T) {
	t.Parallel()
	r := newRenderer(t)
	tests := []struct {
		step, stock int
		wantLine    string // "" means no stock line
	}{
		{step: 1, stock: 3},
		{step: 1, stock: 10},
		{step: 2, stock: 1, wantLine: "Only 1 left in stock when we last checked."},
		{step: 2, stock: 3, wantLine: "Only 3 left in stock when we last checked."},
		{step: 2, stock: 10, wantLine: "Only 10 left in stock when we last checked."},
		{step: 2, stock: 11},
		{step: 2, stock: 250},
		{step: 2, stock: 0},
		{step: 2, stock: -4},
		{step: 3, stock: 2, wantLine: "Only 2 left in stock when we last checked."},
		{step: 3, stock: 11},
	}
	for _, tt := range tests {
		name := fmt.Sprintf("step%d/stock%d", tt.step, tt.stock)
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			d := fixedStep(tt.step)
			d.StockLeft = tt.stock
			// Copy without variables, so only the stock line can mention stock.
			c := email.Copy{Subject: "S", Preheader: "P", Heading: "H", Body: "B", Button: "Go"}
			got, err := r.Render(d, c)
			if err != nil {
				t.Fatalf("Render() error = %v", err)
			}
			for part, s := range map[string]string{"HTML": got.HTML, "Text": got.Text} {
				has := strings.Contains(s, "left in stock")
				switch {
				case tt.wantLine == "" && has:
					t.Errorf("%s has a stock line, want none:\n%s", part, s)
				case tt.wantLine != "" && !strings.Contains(s, tt.wantLine):
					t.Errorf("%s lacks %q:\n%s", part, tt.wantLine, s)
				case tt.wantLine != "" && strings.Count(s, "left in stock") != 1:
					t.Errorf("%s has %d stock lines, want 1", part, strings.Count(s, "left in stock"))
				}
			}
			if tt.wantLine != "" && !strings.Contains(got.Text, d.Price+"\n"+tt.wantLine+"\n") {
				t.Errorf("Text stock line is not right under the price:\n%s", got.Text)
			}
		})
	}
}

func TestRenderRefusesBadCopy(t *testing.T) {
	t.Parallel()
	r := newRenderer(t)
	good := email.Copy{Subject: "S", Preheader: "P", Heading: "H", Body: "B", Button: "Go"}
	tests := []struct {
		name    string
		set     func(*email.Copy)
		wantErr string
	}{
		{name: "subject", set: func(c *email.Copy) { c.Subject = "{{ product.titel }}" }, wantErr: "product.titel"},
		{name: "preheader", set: func(c *email.Copy) { c.Preheader = "{{ nope }}" }, wantErr: "nope"},
		{name: "heading", set: func(c *email.Copy) { c.Heading = "{{ product.title" }, wantErr: "braces"},
		{name: "body", set: func(c *email.Copy) { c.Body = "stray }}" }, wantErr: "braces"},
		{name: "button", set: func(c *email.Copy) { c.Button = "{{ shop }}" }, wantErr: "shop"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := good
			tt.set(&c)
			got, err := r.Render(fixedStep(1), c)
			if err == nil {
				t.Fatalf("Render() = %+v, nil; want error containing %q", got, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Render() error = %q, want it to contain %q", err, tt.wantErr)
			}
		})
	}
}

func TestDefaultCopy(t *testing.T) {
	t.Parallel()
	r := newRenderer(t)
	tests := []struct {
		step   int
		wantOK bool
	}{
		{1, true}, {2, true}, {3, true}, {0, false}, {4, false},
	}
	for _, tt := range tests {
		t.Run(strconv.Itoa(tt.step), func(t *testing.T) {
			t.Parallel()
			c, ok := r.DefaultCopy(tt.step)
			if ok != tt.wantOK {
				t.Fatalf("DefaultCopy(%d) ok = %v, want %v", tt.step, ok, tt.wantOK)
			}
			if !ok {
				return
			}
			if c.Subject == "" || c.Heading == "" || c.Body == "" || c.Button == "" {
				t.Errorf("DefaultCopy(%d) = %+v, want subject, heading, body and button", tt.step, c)
			}
			// Default copy must expand with any data.
			if _, err := r.Render(fixedStep(tt.step), c); err != nil {
				t.Errorf("Render(default copy %d) error = %v", tt.step, err)
			}
		})
	}
}

// ---- Expand ----

func expandData() email.StepData {
	return email.StepData{
		Step: 2, ShopName: "Northwind Ceramics", ProductTitle: "Speckled Mug", VariantTitle: "Large",
		Price: "€24.00", StockLeft: 3, WaitingCount: 42,
	}
}

func TestExpandVariables(t *testing.T) {
	t.Parallel()
	noVariant := expandData()
	noVariant.VariantTitle = ""
	tests := []struct {
		name string
		data email.StepData
		want string
	}{
		{name: "product.title", data: expandData(), want: "Speckled Mug"},
		{name: "variant.title", data: expandData(), want: "Large"},
		{name: "variant.title_suffix", data: expandData(), want: " (Large)"},
		{name: "price", data: expandData(), want: "€24.00"},
		{name: "shop.name", data: expandData(), want: "Northwind Ceramics"},
		{name: "stock_left", data: expandData(), want: "3"},
		{name: "waiting_count", data: expandData(), want: "42"},
		{name: "variant.title", data: noVariant, want: ""},
		{name: "variant.title_suffix", data: noVariant, want: ""},
	}
	var covered []string
	for _, tt := range tests {
		if !slices.Contains(covered, tt.name) {
			covered = append(covered, tt.name)
		}
	}
	slices.Sort(covered)
	if got := email.Variables(); !slices.Equal(got, covered) {
		t.Errorf("Variables() = %q, want %q (add a case here for every new variable)", got, covered)
	}
	for _, tt := range tests {
		t.Run(tt.name+"/variant="+tt.data.VariantTitle, func(t *testing.T) {
			t.Parallel()
			in := "<{{ " + tt.name + " }}>"
			got, err := email.Expand(in, tt.data)
			if err != nil {
				t.Fatalf("Expand(%q) error = %v", in, err)
			}
			if want := "<" + tt.want + ">"; got != want {
				t.Errorf("Expand(%q) = %q, want %q", in, got, want)
			}
		})
	}
}

func TestExpand(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		want string
	}{
		{name: "no variables", in: "Hello there", want: "Hello there"},
		{name: "empty", in: "", want: ""},
		{name: "tight", in: "{{product.title}}", want: "Speckled Mug"},
		{name: "spaced", in: "{{ product.title }}", want: "Speckled Mug"},
		{name: "wide", in: "{{     product.title     }}", want: "Speckled Mug"},
		{name: "left only", in: "{{ product.title}}", want: "Speckled Mug"},
		{name: "right only", in: "{{product.title }}", want: "Speckled Mug"},
		{name: "tabs and newlines", in: "{{\tproduct.title\n}}", want: "Speckled Mug"},
		{name: "several", in: "{{ product.title }}{{ variant.title_suffix }} at {{shop.name}}: {{ stock_left }} left, {{ waiting_count }} waiting, {{ price }}",
			want: "Speckled Mug (Large) at Northwind Ceramics: 3 left, 42 waiting, €24.00"},
		{name: "repeated", in: "{{ product.title }} / {{ product.title }}", want: "Speckled Mug / Speckled Mug"},
		{name: "single braces are text", in: "{ product.title }", want: "{ product.title }"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := email.Expand(tt.in, expandData())
			if err != nil {
				t.Fatalf("Expand(%q) error = %v", tt.in, err)
			}
			if got != tt.want {
				t.Errorf("Expand(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestExpandErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		in      string
		wantErr []string // substrings of the error
	}{
		{name: "unknown variable", in: "{{ product.titel }}", wantErr: []string{"unknown variable", "product.titel"}},
		{name: "unknown among known", in: "{{ product.title }} at {{ shop.nam }}", wantErr: []string{"shop.nam"}},
		{name: "unknown tight", in: "{{titel}}", wantErr: []string{"titel"}},
		{name: "empty variable", in: "{{ }}", wantErr: []string{"unknown variable"}},
		{name: "unclosed", in: "{{ product.title", wantErr: []string{"braces", "{{ product.title"}},
		{name: "unclosed at end", in: "Hi {{ product.title }} and {{ shop.name", wantErr: []string{"braces"}},
		{name: "stray close", in: "product.title }}", wantErr: []string{"braces"}},
		{name: "only stray close", in: "}}", wantErr: []string{"braces"}},
		{name: "double open", in: "{{ {{ product.title }}", wantErr: []string{"braces"}},
		{name: "extra close", in: "{{ product.title }}}}", wantErr: []string{"braces"}},
		{name: "single close", in: "{{ product.title }", wantErr: []string{"braces"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := email.Expand(tt.in, expandData())
			if err == nil {
				t.Fatalf("Expand(%q) = %q, nil; want an error", tt.in, got)
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Expand(%q) error = %q, want it to contain %q", tt.in, err, w)
				}
			}
		})
	}
}

// Values come from the shop (product, variant and shop names), not from the
// merchant's copy: whatever they contain is inserted verbatim.
func TestExpandValuesAreVerbatim(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		title string
	}{
		{name: "open braces", title: "Mug {{ limited"},
		{name: "close braces", title: "Mug }} edition"},
		{name: "variable-like", title: "{{ shop.name }} Mug"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d := expandData()
			d.ProductTitle = tt.title
			got, err := email.Expand("New: {{ product.title }}", d)
			if want := "New: " + tt.title; err != nil || got != want {
				t.Errorf("Expand() = %q, %v; want %q, nil", got, err, want)
			}
			// The same data breaks the built-in copy, so the send fails.
			r := newRenderer(t)
			if _, err := r.Render(d, defaultCopy(t, r, 1)); err != nil {
				t.Errorf("Render(default copy) error = %v, want nil", err)
			}
		})
	}
}
