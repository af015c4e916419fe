package shopify_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/restockrelay/restockrelay/app/fake"
	"github.com/restockrelay/restockrelay/shopify"
)

func ExampleOAuth_AuthorizeURL() {
	o := shopify.NewOAuth(shopify.OAuthConfig{APIKey: "fake_client_id", APISecret: "fake_client_secret"})
	// The shop must pass NormalizeShop; anything else is refused.
	u, err := o.AuthorizeURL("fake-shop.myshopify.com", "read_products,read_inventory",
		"https://app.example/auth/callback", "nonce-from-a-signed-cookie")
	fmt.Println(u, err)

	_, err = o.AuthorizeURL("evil.com", "read_products", "https://app.example/auth/callback", "n")
	fmt.Println(errors.Is(err, shopify.ErrBadShop))
	// Output:
	// https://fake-shop.myshopify.com/admin/oauth/authorize?client_id=fake_client_id&redirect_uri=https%3A%2F%2Fapp.example%2Fauth%2Fcallback&scope=read_products%2Cread_inventory&state=nonce-from-a-signed-cookie <nil>
	// true
}

func ExampleOAuth_ExchangeSessionToken() {
	const (
		shop   = "fake-shop.myshopify.com"
		key    = "fake_client_id"
		secret = "fake_client_secret"
	)
	now := time.Date(2026, 10, 1, 9, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	shopifyFake := fake.NewShopify()
	defer shopifyFake.Close()
	shopifyFake.NowFunc = clock
	shopifyFake.SetOAuthApp(key, secret)

	o := shopify.NewOAuth(shopify.OAuthConfig{APIKey: key, APISecret: secret, BaseURL: shopifyFake.URL, NowFunc: clock})
	ctx := context.Background()

	// The Bearer token of an embedded app's request (verify it first with
	// VerifySessionToken); here one signed as App Bridge would.
	sessionToken, _ := shopify.SignSessionToken(secret, map[string]any{
		"iss": "https://" + shop + "/admin", "dest": "https://" + shop, "aud": key, "sub": "42",
		"exp": now.Add(time.Minute).Unix(), "nbf": now.Unix(), "iat": now.Unix(), "jti": "j", "sid": "s",
	})
	tok, err := o.ExchangeSessionToken(ctx, shop, sessionToken)
	if errors.Is(err, shopify.ErrInvalidSubjectToken) {
		return // answer 401 with X-Shopify-Retry-Invalid-Session-Request: 1
	}
	fmt.Println(err, tok.ExpiresAt.Sub(now), tok.RefreshExpiresAt.Sub(now))

	// Shortly before ExpiresAt, refresh, and store the new pair atomically.
	next, err := o.Refresh(ctx, shop, tok.RefreshToken)
	fmt.Println(err, next.RefreshToken != tok.RefreshToken)
	// Output:
	// <nil> 1h0m0s 2160h0m0s
	// <nil> true
}
