// Package shopify holds the Shopify platform protocol pieces that Restock
// Relay relies on: signature checks for the requests Shopify sends to the
// app, shop-domain validation and App Bridge session-token verification.
//
// The package knows about Shopify only; it imports nothing else from this
// repository, so it can be tested against public vectors in isolation.
//
// Four signature schemes are covered, each with a Sign and a Verify function:
//
//   - Webhooks ([SignWebhook], [VerifyWebhook]): X-Shopify-Hmac-Sha256 is the
//     base64 HMAC-SHA256 of the raw request body. Always pass the exact bytes
//     that were received; a re-serialised JSON body will not verify.
//   - App proxy ([SignProxyQuery], [VerifyProxyQuery]): the signature query
//     parameter is the lowercase hex HMAC-SHA256 of the sorted "key=value"
//     strings concatenated with no separator, repeated keys' values joined by
//     ",". Only the query string is signed, never a POST body.
//   - OAuth install, callback and embedded admin loads ([SignOAuthQuery],
//     [VerifyOAuthQuery]): the hmac query parameter is the lowercase hex
//     HMAC-SHA256 of the sorted "key=value" pairs joined by "&".
//   - Session tokens ([VerifySessionToken], [SignSessionToken]): HS256 JWTs
//     issued by App Bridge and signed with the client secret.
//
// Every Verify function takes the secrets to try as trailing arguments: the
// current client secret first, then the previous one while a rotation is in
// progress. Empty secrets are ignored; with no usable secret every request is
// rejected. Signatures are compared in constant time.
//
// Failures wrap the sentinel errors [ErrBadSignature], [ErrBadShop],
// [ErrStale] and, for session tokens, [ErrInvalidToken]; test them with
// [errors.Is]. Error messages may quote attacker-controlled input (with %q),
// so log them rather than echo them to the client.
//
// Shop domains must match ^[a-zA-Z0-9][a-zA-Z0-9-_]*\.myshopify\.com$ (see
// [ValidShop]); use [NormalizeShop] for user-typed input. Never build a URL
// or a Content-Security-Policy header from a shop that has not passed one of
// them.
package shopify
