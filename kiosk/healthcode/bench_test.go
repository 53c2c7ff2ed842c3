package healthcode

import (
	"context"
	"testing"

	"onepass/identity"
	"onepass/kiosk/policy"
	"onepass/signing"
)

// BenchmarkVerify is the time to verify one code per algorithm, without the binding hash (a phone
// code shown without a card): parse, trust-list lookup, signature, time and revocation checks.
func BenchmarkVerify(b *testing.B) {
	f := newFixture(b)
	v := f.verifier(b, Options{Revoked: revokedSet{}})
	for _, alg := range []signing.Alg{signing.ES256, signing.EdDSA, signing.SM2SM3} {
		b.Run(string(alg), func(b *testing.B) {
			text, _ := f.issue(b, alg, CodeRequest{Status: policy.StatusGreen, Class: policy.ClassPhone})
			for b.Loop() {
				if r := v.Verify(context.Background(), text, nil); r.Code.Check != policy.CodeValid {
					b.Fatal(r.Err)
				}
			}
		})
	}
}

// BenchmarkBinding is the Argon2id card binding with the spec's default parameters (t=1, 8 MiB, p=1),
// paid once per code shown together with a card.
func BenchmarkBinding(b *testing.B) {
	cid := make([]byte, CIDSize)
	for b.Loop() {
		Binding(signing.DefaultBind, identity.CertResident, number, cid)
	}
}

// BenchmarkVerifyPrintedWithCard is the whole check of a printed code with the card on the reader.
func BenchmarkVerifyPrintedWithCard(b *testing.B) {
	f := newFixture(b)
	for i := range f.list.Issuers {
		f.list.Issuers[i].Binding = signing.DefaultBind
	}
	s := *f.signers[signing.ES256]
	s.Binding = signing.DefaultBind
	text, _, _ := s.Issue(CodeRequest{Class: policy.ClassPrinted, Number: number, Name: "张三", IssuedAt: t0})
	v := f.verifier(b, Options{})
	for b.Loop() {
		if r := v.Verify(context.Background(), text, card); r.Code.Check != policy.CodeValid || !*r.Code.BindMatches {
			b.Fatal(r.Code, r.Err)
		}
	}
}
