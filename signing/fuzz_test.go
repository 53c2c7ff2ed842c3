package signing

import (
	"bytes"
	"testing"
)

// FuzzParsePublicKey feeds arbitrary DER to the SPKI parser: it must never panic, and a key it
// accepts keeps the exact bytes its kid is computed over and verifies without panicking.
func FuzzParsePublicKey(f *testing.F) {
	for _, alg := range algs {
		f.Add(mustKey(f, alg).Public().SPKI())
	}
	f.Add([]byte{0x30, 0x03, 0x02, 0x01, 0x01})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, der []byte) {
		k, err := ParsePublicKey(der)
		if err != nil {
			return
		}
		if !bytes.Equal(k.SPKI(), der) || !bytes.Equal(k.KID(), KID(der)) {
			t.Fatal("accepted key does not keep its SPKI")
		}
		if k.Verify([]byte("m"), make([]byte, 64)) == nil {
			t.Fatal("a zero signature verified")
		}
	})
}

// FuzzParsePrivateKeyPEM feeds arbitrary text to the PKCS #8 PEM parser: it must never panic, and
// a key it accepts can sign what its public half verifies.
func FuzzParsePrivateKeyPEM(f *testing.F) {
	for _, alg := range algs {
		b, err := mustKey(f, alg).MarshalPEM()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		k, err := ParsePrivateKeyPEM(b)
		if err != nil {
			return
		}
		sig, err := k.Sign([]byte("m"))
		if err != nil {
			t.Fatal(err)
		}
		if err := k.Public().Verify([]byte("m"), sig); err != nil {
			t.Fatal(err)
		}
	})
}

// FuzzOpenTrustList feeds arbitrary documents to the trust-list parser: it must never panic and
// never accept a list the root did not sign or one that breaks the list's rules.
func FuzzOpenTrustList(f *testing.F) {
	fx := newTrustFixture(f)
	f.Add(fx.signed(f, nil))
	f.Add([]byte(`{"payload":"e30=","alg":"EdDSA","kid":"AAAAAAAAAAA=","signature":""}`))
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"payload":null} {}`))
	root := fx.root.Public()
	f.Fuzz(func(t *testing.T, doc []byte) {
		l, err := OpenTrustList(doc, root)
		if err != nil {
			return
		}
		if l.Version != 1 || l.Seq <= 0 || l.IssuedAt.IsZero() {
			t.Fatalf("accepted version %d seq %d", l.Version, l.Seq)
		}
		for _, is := range l.Issuers {
			for _, k := range is.Keys {
				if len(l.Keys(k.KID)) == 0 {
					t.Fatalf("key %x of %s not indexed", k.KID, is.ID)
				}
			}
		}
	})
}
