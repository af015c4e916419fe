package email

import (
	"bytes"
	"encoding/json"
	"fmt"
	htmltemplate "html/template"
	"regexp"
	"sort"
	"strconv"
	"strings"
	texttemplate "text/template"

	"github.com/restockrelay/restockrelay/templates"
)

// Copy is the merchant-facing text of one step. Fields may use variables
// such as {{ product.title }}.
type Copy struct {
	Subject   string `json:"subject"`
	Preheader string `json:"preheader"`
	Heading   string `json:"heading"`
	Body      string `json:"body"`
	Button    string `json:"button"`
}

// StepData is what a step email knows about the restock. The link fields
// usually hold substitution keys filled per recipient by the provider.
type StepData struct {
	Step           int
	Lang           string
	ShopName       string
	ProductTitle   string
	VariantTitle   string
	Price          string // formatted with currency
	ImageURL       string
	ClickURL       string
	UnsubscribeURL string
	StockLeft      int
	WaitingCount   int
	BrandColor     string
	LogoURL        string // https image above the shop name, or ""
}

// Rendered is a step email ready to send.
type Rendered struct {
	Subject string
	Text    string
	HTML    string
}

// Renderer turns step data and copy into emails. It is safe for concurrent use.
type Renderer struct {
	html     *htmltemplate.Template
	text     *texttemplate.Template
	defaults map[int]Copy
}

// NewRenderer parses the embedded templates and default copy.
func NewRenderer() (*Renderer, error) {
	h, err := htmltemplate.ParseFS(templates.FS, "email/step.html")
	if err != nil {
		return nil, fmt.Errorf("parse html template: %w", err)
	}
	t, err := texttemplate.ParseFS(templates.FS, "email/step.txt")
	if err != nil {
		return nil, fmt.Errorf("parse text template: %w", err)
	}
	raw, err := templates.FS.ReadFile("email/copy.json")
	if err != nil {
		return nil, fmt.Errorf("read default copy: %w", err)
	}
	var byKey map[string]Copy
	if err := json.Unmarshal(raw, &byKey); err != nil {
		return nil, fmt.Errorf("parse default copy: %w", err)
	}
	defaults := map[int]Copy{}
	for k, c := range byKey {
		n, err := strconv.Atoi(k)
		if err != nil {
			return nil, fmt.Errorf("default copy key %q is not a step number", k)
		}
		defaults[n] = c
	}
	return &Renderer{html: h, text: t, defaults: defaults}, nil
}

// DefaultCopy is the built-in copy of a step.
func (r *Renderer) DefaultCopy(step int) (Copy, bool) {
	c, ok := r.defaults[step]
	return c, ok
}

var variablePattern = regexp.MustCompile(`\{\{\s*([^{}]*?)\s*\}\}`)

// Variables lists the names copy may use.
func Variables() []string {
	names := make([]string, 0, len(variableFuncs))
	for k := range variableFuncs {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

var variableFuncs = map[string]func(StepData) string{
	"product.title":        func(d StepData) string { return d.ProductTitle },
	"variant.title":        func(d StepData) string { return d.VariantTitle },
	"variant.title_suffix": func(d StepData) string { return titleSuffix(d.VariantTitle) },
	"price":                func(d StepData) string { return d.Price },
	"shop.name":            func(d StepData) string { return d.ShopName },
	"stock_left":           func(d StepData) string { return strconv.Itoa(d.StockLeft) },
	"waiting_count":        func(d StepData) string { return strconv.Itoa(d.WaitingCount) },
}

func titleSuffix(v string) string {
	if v == "" {
		return ""
	}
	return " (" + v + ")"
}

// Expand fills the variables of one piece of copy. An unknown variable or a
// stray brace is an error naming it, so bad copy is refused when saved.
func Expand(s string, d StepData) (string, error) {
	var firstErr error
	out := variablePattern.ReplaceAllStringFunc(s, func(m string) string {
		name := strings.TrimSpace(variablePattern.FindStringSubmatch(m)[1])
		f, ok := variableFuncs[name]
		if !ok {
			if firstErr == nil {
				firstErr = fmt.Errorf("unknown variable {{ %s }}; use one of %s", name, strings.Join(Variables(), ", "))
			}
			return m
		}
		return f(d)
	})
	if firstErr != nil {
		return "", firstErr
	}
	// Stray braces are looked for in the copy, never in the values: a
	// product may well be called "Mug }} edition".
	if rest := variablePattern.ReplaceAllString(s, ""); strings.Contains(rest, "{{") || strings.Contains(rest, "}}") {
		return "", fmt.Errorf("unclosed or stray braces in %q: variables look like {{ product.title }}", s)
	}
	return out, nil
}

// Render builds a step email from copy (merchant text is plain text: it is
// escaped in the HTML part, never interpreted as markup).
func (r *Renderer) Render(d StepData, c Copy) (Rendered, error) {
	if d.BrandColor == "" {
		d.BrandColor = "#303030"
	}
	if d.Lang == "" {
		d.Lang = "en"
	}
	fields := []*string{&c.Subject, &c.Preheader, &c.Heading, &c.Body, &c.Button}
	for _, f := range fields {
		v, err := Expand(*f, d)
		if err != nil {
			return Rendered{}, err
		}
		*f = v
	}
	view := struct {
		StepData
		Copy
		StockLine string
	}{StepData: d, Copy: c, StockLine: stockLine(d)}
	var hb, tb bytes.Buffer
	if err := r.html.ExecuteTemplate(&hb, "step.html", view); err != nil {
		return Rendered{}, fmt.Errorf("render html: %w", err)
	}
	if err := r.text.ExecuteTemplate(&tb, "step.txt", view); err != nil {
		return Rendered{}, fmt.Errorf("render text: %w", err)
	}
	return Rendered{Subject: c.Subject, Text: tb.String(), HTML: hb.String()}, nil
}

// stockLine is the honest urgency line: only what we know.
func stockLine(d StepData) string {
	if d.Step < 2 || d.StockLeft <= 0 {
		return ""
	}
	if d.StockLeft <= 10 {
		return fmt.Sprintf("Only %d left in stock when we last checked.", d.StockLeft)
	}
	return ""
}
