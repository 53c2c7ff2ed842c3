package healthcode

import (
	"context"
	"sync"
	"testing"

	"onepass/identity"
	"onepass/kiosk/policy"
	"onepass/signing"
)

// fuzzFixture is shared by the fuzz targets: key generation is slow next to one verification.
var fuzzFixture = sync.OnceValue(func() *fixture {
	f, err := makeFixture()
	if err != nil {
		panic(err)
	}
	return f
})

// seedCodes are valid codes of every algorithm and class, plus near misses, for the seed corpus.
func seedCodes(f *fixture) []string {
	var out []string
	for _, alg := range []signing.Alg{signing.ES256, signing.EdDSA, signing.SM2SM3} {
		for _, cls := range []policy.CodeClass{policy.ClassPhone, policy.ClassPrinted} {
			text, _, _ := f.signers[alg].Issue(CodeRequest{Status: policy.StatusGreen, Class: cls, Number: number, Name: "张三", IssuedAt: t0})
			out = append(out, text)
		}
	}
	return append(out, "JKM1:", "JKM1:BB8", "HC1:NCFOXN", "JKM1:6BFOXN*TS0BI$ZD")
}

// FuzzVerify feeds arbitrary text to the whole verifier: it must never panic and must accept only
// what a trusted key signed.
func FuzzVerify(f *testing.F) {
	fx := fuzzFixture()
	for _, s := range seedCodes(fx) {
		f.Add(s)
	}
	v := fx.verifier(f, Options{})
	c := &Card{Type: identity.CertResident, Number: number}
	f.Fuzz(func(t *testing.T, text string) {
		r := v.Verify(context.Background(), text, c)
		if r.Code.Check == policy.CodeValid && r.Claims == nil {
			t.Fatalf("valid without verified claims: %q", text)
		}
		if r.Code.Check != policy.CodeValid && r.Err == nil {
			t.Fatalf("check %s without a reason", r.Code.Check)
		}
	})
}

// FuzzCOSE feeds arbitrary bytes to the CBOR structure parser.
func FuzzCOSE(f *testing.F) {
	fx := fuzzFixture()
	for _, s := range seedCodes(fx) {
		if raw, err := Base45Decode(s[len(Prefix):]); err == nil {
			f.Add(raw)
		}
	}
	f.Add([]byte{0xd2, 0x84, 0x40, 0xa0, 0x40, 0x40})
	f.Add([]byte{0x84, 0x43, 0xa1, 0x01, 0x27, 0xa0, 0x41, 0xa0, 0x58, 0x40})
	f.Fuzz(func(t *testing.T, raw []byte) {
		m, err := parseCOSE(raw)
		if err != nil {
			return
		}
		if len(m.kid) != signing.KIDSize || len(m.signature) != 64 || len(m.claims.CID) != CIDSize {
			t.Fatalf("accepted a structure outside the limits: %+v", m)
		}
	})
}

// FuzzTrustDocument feeds arbitrary documents to the trust-list parser.
func FuzzTrustDocument(f *testing.F) {
	fx := fuzzFixture()
	doc, _ := signing.SignTrustList(fx.list, fx.root)
	f.Add(doc)
	f.Add([]byte(`{"payload":"e30=","alg":"signing.EdDSA","kid":"AAAAAAAAAAA=","signature":""}`))
	f.Add([]byte(`{}`))
	root := fx.root.Public()
	f.Fuzz(func(t *testing.T, b []byte) {
		l, err := OpenDocument(b, root)
		if err == nil && l.Seq <= 0 {
			t.Fatalf("accepted a list with seq %d", l.Seq)
		}
	})
}
