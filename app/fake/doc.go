// Package fake provides in-process fakes of the external services Restock Relay talks to (SendGrid, Shopify), used by tests and by the demo command.
package fake
