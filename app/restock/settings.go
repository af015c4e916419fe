package restock

import (
	"context"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/restockrelay/restockrelay/app/email"
	"github.com/restockrelay/restockrelay/app/store"
)

// CopyInput is a merchant's text for one step and locale ("" = default).
type CopyInput struct {
	Step      int    `json:"step"`
	Locale    string `json:"locale"`
	Subject   string `json:"subject"`
	Preheader string `json:"preheader"`
	Heading   string `json:"heading"`
	Body      string `json:"body"`
	Button    string `json:"button"`
}

// SettingsInput is what the admin page saves.
type SettingsInput struct {
	Step2Enabled      bool `json:"step2_enabled"`
	Step2DelaySeconds int  `json:"step2_delay_seconds"`
	Step3Enabled      bool `json:"step3_enabled"`
	Step3DelaySeconds int  `json:"step3_delay_seconds"`
	Threshold         int  `json:"threshold"`
	MaxCycles         int  `json:"max_cycles"`
	// WaveSize: shoppers emailed per unit in stock at a time (0: all at
	// once); WaveIntervalSeconds between waves while stock lasts.
	WaveSize            int         `json:"wave_size"`
	WaveIntervalSeconds int         `json:"wave_interval_seconds"`
	SenderName          string      `json:"sender_name"`
	ReplyTo             string      `json:"reply_to"`
	BrandColor          string      `json:"brand_color"`
	LogoURL             string      `json:"logo_url"`
	Copy                []CopyInput `json:"copy"`
}

// FieldError names what is wrong with one field, for an inline message.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// ValidationError lists every problem of a save; nothing was saved.
type ValidationError []FieldError

func (v ValidationError) Error() string {
	parts := make([]string, len(v))
	for i, f := range v {
		parts[i] = f.Field + ": " + f.Message
	}
	return "invalid settings: " + strings.Join(parts, "; ")
}

var colorPattern = regexp.MustCompile(`^#[0-9a-fA-F]{6}$`)

// sampleData fills copy variables when checking or previewing copy.
var sampleData = email.StepData{Step: 1, ShopName: "Your shop", ProductTitle: "Example product", VariantTitle: "Medium",
	Price: "$19.99", ImageURL: "", ClickURL: "#", UnsubscribeURL: "#", StockLeft: 4, WaitingCount: 12}

// SettingsView is a shop's settings and copy as the admin page shows them:
// saved copy, and the built-in default for each step without one.
type SettingsView struct {
	Settings  SettingsInput `json:"settings"`
	Variables []string      `json:"variables"`
}

// ShopSettings returns a shop's settings and copy.
func (f *Flow) ShopSettings(ctx context.Context, shopDomain string) (SettingsView, error) {
	shop, err := store.ShopByDomain(ctx, f.db.DB, shopDomain)
	if err != nil {
		return SettingsView{}, err
	}
	s, err := store.SettingsFor(ctx, f.db.DB, shop.ID)
	if err != nil {
		return SettingsView{}, err
	}
	in := SettingsInput{Step2Enabled: s.Step2Enabled, Step2DelaySeconds: s.Step2DelaySeconds, Step3Enabled: s.Step3Enabled,
		Step3DelaySeconds: s.Step3DelaySeconds, Threshold: s.Threshold, MaxCycles: s.MaxCycles, SenderName: s.SenderName,
		WaveSize: s.WaveSize, WaveIntervalSeconds: s.WaveIntervalSeconds, ReplyTo: s.ReplyTo, BrandColor: s.BrandColor, LogoURL: s.LogoURL}
	saved, err := store.CopiesFor(ctx, f.db.DB, shop.ID)
	if err != nil {
		return SettingsView{}, err
	}
	have := map[int]bool{}
	for _, c := range saved {
		in.Copy = append(in.Copy, CopyInput{Step: c.Step, Locale: c.Locale, Subject: c.Subject, Preheader: c.Preheader,
			Heading: c.Heading, Body: c.Body, Button: c.Button})
		if c.Locale == "" {
			have[c.Step] = true
		}
	}
	for step := 1; step <= 3; step++ {
		if d, ok := f.cfg.Renderer.DefaultCopy(step); ok && !have[step] {
			in.Copy = append(in.Copy, CopyInput{Step: step, Subject: d.Subject, Preheader: d.Preheader, Heading: d.Heading, Body: d.Body, Button: d.Button})
		}
	}
	return SettingsView{Settings: in, Variables: email.Variables()}, nil
}

// SaveShopSettings validates everything and saves it in one transaction;
// campaigns that start afterwards use it, running ones keep their plan.
func (f *Flow) SaveShopSettings(ctx context.Context, shopDomain string, in SettingsInput) error {
	var errs ValidationError
	bad := func(field, msg string) { errs = append(errs, FieldError{Field: field, Message: msg}) }
	if in.Step2DelaySeconds < 3600 || in.Step2DelaySeconds > 7*86400 {
		bad("step2_delay_seconds", "the reminder goes between 1 hour and 7 days after the restock")
	}
	if in.Step3DelaySeconds < 0 || in.Step3DelaySeconds > 14*86400 || (in.Step3Enabled && in.Step3DelaySeconds <= in.Step2DelaySeconds) {
		bad("step3_delay_seconds", "the last-chance email goes after the reminder and within 14 days")
	}
	if in.Threshold < 0 || in.Threshold > 100000 {
		bad("threshold", "the restock threshold is a number of units from 0 to 100,000")
	}
	if in.MaxCycles < 1 || in.MaxCycles > 10 {
		bad("max_cycles", "shoppers keep waiting for 1 to 10 restocks")
	}
	if in.WaveSize < 0 || in.WaveSize > 1000 {
		bad("wave_size", "a wave is 0 (everyone at once) to 1,000 shoppers per unit in stock")
	}
	switch {
	case in.WaveSize > 0 && (in.WaveIntervalSeconds < 900 || in.WaveIntervalSeconds > 86400):
		bad("wave_interval_seconds", "waves go 15 minutes to 24 hours apart")
	case in.WaveSize == 0 && (in.WaveIntervalSeconds < 900 || in.WaveIntervalSeconds > 86400):
		in.WaveIntervalSeconds = 3600 // unused without waves: keep a sensible default
	}
	if len([]rune(in.SenderName)) > 100 || strings.ContainsAny(in.SenderName, "<>\",;") || hasControl(in.SenderName, false) {
		bad("sender_name", "the sender name is up to 100 characters, without < > \" , ; or line breaks")
	}
	if in.ReplyTo != "" && !ValidEmail(NormalizeEmail(in.ReplyTo)) {
		bad("reply_to", "the reply-to address must be a valid email address")
	}
	if in.BrandColor != "" && !colorPattern.MatchString(in.BrandColor) {
		bad("brand_color", "the brand colour is a hex colour such as #1a73e8")
	}
	if in.LogoURL != "" && !validLogoURL(in.LogoURL) {
		bad("logo_url", "the logo is an https:// image address of up to 1,000 characters, such as your shop's logo from Settings › Files")
	}
	seen := map[string]bool{}
	for i, c := range in.Copy {
		at := fmt.Sprintf("copy[%d].", i)
		if c.Step < 1 || c.Step > 3 {
			bad(at+"step", "steps are 1, 2 and 3")
			continue
		}
		if c.Locale != "" && copyLocale(c.Locale) == "" {
			bad(at+"locale", "a locale looks like en, de or pt-BR")
		}
		key := fmt.Sprint(c.Step, "|", copyLocale(c.Locale))
		if seen[key] {
			bad(at+"locale", "this step already has copy for that locale")
		}
		seen[key] = true
		errs = append(errs, copyErrors(c, at)...)
	}
	if len(errs) > 0 {
		return errs
	}
	shop, err := store.ShopByDomain(ctx, f.db.DB, shopDomain)
	if err != nil {
		return err
	}
	return f.tx(ctx, func(tx *txn) error {
		// The copy sent is the shop's whole copy: entries left out (a
		// removed translation) are deleted.
		if err := tx.Where("shop_id = ?", shop.ID).Delete(&store.Copy{}).Error; err != nil {
			return err
		}
		if err := store.SaveSettings(ctx, tx.DB, store.Settings{ShopID: shop.ID, Step2Enabled: in.Step2Enabled,
			Step2DelaySeconds: in.Step2DelaySeconds, Step3Enabled: in.Step3Enabled, Step3DelaySeconds: in.Step3DelaySeconds,
			Threshold: in.Threshold, MaxCycles: in.MaxCycles, WaveSize: in.WaveSize, WaveIntervalSeconds: in.WaveIntervalSeconds, SenderName: strings.TrimSpace(in.SenderName),
			ReplyTo: NormalizeEmail(in.ReplyTo), BrandColor: in.BrandColor, LogoURL: strings.TrimSpace(in.LogoURL)}); err != nil {
			return err
		}
		for _, c := range in.Copy {
			// Default-locale copy equal to the built-in text is not stored:
			// the shop keeps following the app's defaults.
			if d, ok := f.cfg.Renderer.DefaultCopy(c.Step); ok && copyLocale(c.Locale) == "" && sameCopy(c, d) {
				continue
			}
			if err := store.SaveCopy(ctx, tx.DB, store.Copy{ShopID: shop.ID, Step: c.Step, Locale: copyLocale(c.Locale),
				Subject: strings.TrimSpace(c.Subject), Preheader: strings.TrimSpace(c.Preheader), Heading: strings.TrimSpace(c.Heading),
				Body: strings.TrimSpace(c.Body), Button: strings.TrimSpace(c.Button)}); err != nil {
				return err
			}
		}
		return nil
	})
}

func sameCopy(c CopyInput, d email.Copy) bool {
	t := strings.TrimSpace
	return t(c.Subject) == t(d.Subject) && t(c.Preheader) == t(d.Preheader) && t(c.Heading) == t(d.Heading) &&
		t(c.Body) == t(d.Body) && t(c.Button) == t(d.Button)
}

// copyLocale is the stored form of a copy's locale: trimmed, lower case,
// "-" between parts ("pt_BR" → "pt-br"); "" for the default or a bad one.
func copyLocale(s string) string {
	return strings.ToLower(strings.ReplaceAll(cleanLocale(s), "_", "-"))
}

// hasControl reports control characters (NUL, escapes, line and paragraph
// separators); multiline allows line breaks and tabs (the body).
func hasControl(s string, multiline bool) bool {
	for _, r := range s {
		if multiline && (r == '\n' || r == '\r' || r == '\t') {
			continue
		}
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' || r == utf8.RuneError {
			return true
		}
	}
	return false
}

// copyErrors checks each field of one step's copy as a save does; field
// names get prefix ("copy[2]." in a save, "" for a test email).
func copyErrors(c CopyInput, prefix string) []FieldError {
	var errs []FieldError
	for _, fld := range []struct {
		name, value string
		min, max    int
	}{{"subject", c.Subject, 1, 200}, {"preheader", c.Preheader, 0, 200}, {"heading", c.Heading, 1, 200},
		{"body", c.Body, 1, 2000}, {"button", c.Button, 1, 50}} {
		if msg := copyFieldProblem(fld.name, fld.value, fld.min, fld.max); msg != "" {
			errs = append(errs, FieldError{Field: prefix + fld.name, Message: msg})
		}
	}
	return errs
}

// copyFieldProblem checks one field of copy: its length in characters,
// control characters, and its variables.
func copyFieldProblem(name, value string, minLen, maxLen int) string {
	if n := len([]rune(strings.TrimSpace(value))); n < minLen || n > maxLen {
		return fmt.Sprintf("%s is %d to %d characters", name, minLen, maxLen)
	}
	if hasControl(value, name == "body") {
		return name + " must not contain control characters" + map[bool]string{true: "", false: " or line breaks"}[name == "body"]
	}
	if _, err := email.Expand(value, sampleData); err != nil {
		return err.Error()
	}
	return ""
}

// validLogoURL accepts an absolute https URL with a host and no
// credentials: it goes into every email's <img src>.
func validLogoURL(raw string) bool {
	raw = strings.TrimSpace(raw)
	u, err := url.Parse(raw)
	return err == nil && !hasControl(raw, false) && len(raw) <= 1000 && u.Scheme == "https" && u.Host != "" && u.User == nil &&
		!strings.ContainsAny(raw, " \t\r\n\"'<>")
}

// copyFor picks the copy of a step for a shopper's locale: the exact
// locale, then its language, then the shop's default, then the built-in.
func copyFor(saved []store.Copy, r *email.Renderer, step int, locale string) email.Copy {
	locale = strings.ToLower(strings.ReplaceAll(locale, "_", "-"))
	lang, _, _ := strings.Cut(locale, "-")
	var best *store.Copy
	rank := 0
	for i := range saved {
		c := &saved[i]
		if c.Step != step {
			continue
		}
		score := 0
		switch {
		case locale != "" && c.Locale == locale:
			score = 3
		case lang != "" && c.Locale == lang:
			score = 2
		case c.Locale == "":
			score = 1
		}
		if score > rank {
			best, rank = c, score
		}
	}
	if best == nil {
		d, _ := r.DefaultCopy(step)
		return d
	}
	return email.Copy{Subject: best.Subject, Preheader: best.Preheader, Heading: best.Heading, Body: best.Body, Button: best.Button}
}
