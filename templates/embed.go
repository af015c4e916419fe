// Package templates embeds the email templates and their default copy, so
// the binary carries everything it renders.
package templates

import "embed"

// FS holds email/*.html, email/*.txt, email/copy.json and pages/*.html
// (the unsubscribe and link pages, the development outbox).
//
//go:embed email pages
var FS embed.FS
