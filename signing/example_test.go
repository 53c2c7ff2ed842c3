package signing_test

import (
	"fmt"
	"time"

	"onepass/signing"
)

// An issuer's key signs, the root signs the trust list naming that key, and a verifier that
// pins only the root finds the key by its kid and checks the signature.
func Example() {
	root, _ := signing.GenerateKey(signing.EdDSA)
	issuer, _ := signing.GenerateKey(signing.SM2SM3)

	now := time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)
	doc, err := signing.SignTrustList(&signing.TrustList{Version: 1, Seq: 1, IssuedAt: now, Issuers: []signing.Issuer{{
		ID: "510000-SCJKM", Classes: []int{1, 2}, Binding: signing.DefaultBind,
		Keys: []signing.IssuerKey{signing.NewIssuerKey(issuer.Public(), now, now.AddDate(1, 0, 0))},
	}}}, root)
	if err != nil {
		fmt.Println(err)
		return
	}

	// The kiosk's side: the root key as configured, the document from sync or a file.
	pinned, _ := signing.ParsePublicKey(root.Public().SPKI())
	list, err := signing.OpenTrustList(doc, pinned)
	if err != nil {
		fmt.Println(err)
		return
	}
	msg := []byte("what the issuer signed")
	sig, _ := issuer.Sign(msg)
	for _, r := range list.Keys(issuer.Public().KID()) {
		fmt.Println(r.Issuer.ID, r.Key.Alg, r.Key.ValidAt(now), r.Key.Verify(msg, sig) == nil)
	}
	fmt.Println(list.CheckNewer(2))
	// Output:
	// 510000-SCJKM SM2-SM3 true true
	// trust list rollback: held seq 2, offered 1
}

// NewPrivateKey wraps a key of the standard library, as the hub holds its root and batch keys.
func ExampleNewPrivateKey() {
	k, _ := signing.GenerateKey(signing.ES256)
	pem, _ := k.MarshalPEM()
	back, err := signing.ParsePrivateKeyPEM(pem)
	if err != nil {
		fmt.Println(err)
		return
	}
	wrapped, _ := signing.NewPrivateKey(back.Signer())
	fmt.Println(wrapped.Public().Alg(), len(wrapped.Public().KID()))
	// Output: ES256 8
}
