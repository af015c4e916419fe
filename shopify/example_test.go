package shopify_test

import (
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/restockrelay/restockrelay/shopify"
)

func ExampleVerifyWebhook() {
	// Values from shopify-app-js's webhook validation test. In a handler,
	// read the raw body before any JSON binding and pass the header value of
	// X-Shopify-Hmac-Sha256 unchanged.
	body := []byte(`{"foo": "bar"}`)
	header := "B23tXN681gZ0qIWNRrgtzBE9XSDo5yaUu6wfmhu3a7g="

	// Current secret first, then the previous one during a rotation.
	fmt.Println(shopify.VerifyWebhook(body, header, "new_secret", "test_secret_key"))

	// Re-serialised JSON is different bytes, so it does not verify.
	err := shopify.VerifyWebhook([]byte(`{"foo":"bar"}`), header, "test_secret_key")
	fmt.Println(errors.Is(err, shopify.ErrBadSignature))
	// Output:
	// <nil>
	// true
}

func ExampleVerifyProxyQuery() {
	// The forwarded request from Shopify's app proxy documentation.
	q, _ := url.ParseQuery("extra=1&extra=2&shop=shop-name.myshopify.com" +
		"&logged_in_customer_id=1&path_prefix=%2Fapps%2Fawesome_reviews&timestamp=1317327555" +
		"&signature=4c68c8624d737112c91818c11017d24d334b524cb5c2b8ba08daa056f7395ddb")
	now := time.Unix(1317327555, 0).Add(20 * time.Second)

	req, err := shopify.VerifyProxyQuery(q, now, 0, "hush")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(req.Shop, req.LoggedInCustomerID, req.PathPrefix, req.Timestamp.Unix())

	// Five minutes later the same URL is stale.
	_, err = shopify.VerifyProxyQuery(q, now.Add(5*time.Minute), 0, "hush")
	fmt.Println(errors.Is(err, shopify.ErrStale))
	// Output:
	// shop-name.myshopify.com 1 /apps/awesome_reviews 1317327555
	// true
}

func ExampleVerifyOAuthQuery() {
	// An OAuth callback from Shopify's documentation (secret "hush").
	q, _ := url.ParseQuery("code=0907a61c0c8d55e99db179b68161bc00" +
		"&hmac=700e2dadb827fcc8609e9d5ce208b2e9cdaab9df07390d2cbca10d7c328fc4bf" +
		"&shop=some-shop.myshopify.com&state=0.6784241404160823&timestamp=1337178173")
	now := time.Unix(1337178173, 0).Add(3 * time.Second)

	shop, err := shopify.VerifyOAuthQuery(q, now, 0, "hush")
	fmt.Println(shop, err)

	// The caller still compares state with the nonce it issued.
	fmt.Println(q.Get("state") == "0.6784241404160823")

	q.Set("shop", "attacker.myshopify.com")
	_, err = shopify.VerifyOAuthQuery(q, now, 0, "hush")
	fmt.Println(errors.Is(err, shopify.ErrBadSignature))
	// Output:
	// some-shop.myshopify.com <nil>
	// true
	// true
}

func ExampleNormalizeShop() {
	for _, in := range []string{
		" Fake-Shop.MyShopify.com ",
		"admin.shopify.com/store/fake-shop",
		"x.myshopify.com.evil.com",
		"https://fake-shop.myshopify.com/admin",
	} {
		shop, err := shopify.NormalizeShop(in)
		fmt.Printf("%q %v\n", shop, errors.Is(err, shopify.ErrBadShop))
	}
	// Output:
	// "fake-shop.myshopify.com" false
	// "fake-shop.myshopify.com" false
	// "" true
	// "" true
}

func ExampleVerifySessionToken() {
	const (
		secret = "fake_client_secret_DO_NOT_USE_1234"
		apiKey = "fake_client_id_0001"
	)
	now := time.Unix(1767225600, 0)
	// App Bridge sends such a token as "Authorization: Bearer <token>".
	token, err := shopify.SignSessionToken(secret, map[string]any{
		"iss":  "https://fake-shop.myshopify.com/admin",
		"dest": "https://fake-shop.myshopify.com",
		"aud":  apiKey,
		"sub":  "42",
		"exp":  now.Add(time.Minute).Unix(),
		"nbf":  now.Unix(),
		"iat":  now.Unix(),
		"jti":  "00000000-0000-4000-8000-000000000001",
		"sid":  "fake-session-0001",
	})
	if err != nil {
		fmt.Println(err)
		return
	}

	st, err := shopify.VerifySessionToken(token, apiKey, now.Add(5*time.Second), secret)
	fmt.Println(st.Shop, st.UserID, st.SessionID, err)

	// 71 s later the 60 s token is expired, even with the 10 s leeway.
	_, err = shopify.VerifySessionToken(token, apiKey, now.Add(71*time.Second), secret)
	fmt.Println(errors.Is(err, shopify.ErrInvalidToken), errors.Is(err, shopify.ErrStale))
	// Output:
	// fake-shop.myshopify.com 42 fake-session-0001 <nil>
	// true true
}
