package healthcode

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"onepass/identity"
	"onepass/kiosk/policy"
	"onepass/signing"
)

// t0 is the fixed "now" of the tests.
var t0 = time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)

const (
	number = "11010119900307447X"
	other  = "110105194912310029"
)

// fixedClock is a trusted clock at a fixed time (or an untrusted one with err).
type fixedClock struct {
	t   time.Time
	err error
}

func (c fixedClock) Now(context.Context) (time.Time, error) { return c.t, c.err }

type revokedSet map[string]bool

func (r revokedSet) IsRevoked(_ context.Context, cid []byte) (bool, error) {
	if r["error"] {
		return false, errors.New("database locked")
	}
	return r[string(cid)], nil
}

// fixture is a trust list with one issuer per algorithm.
type fixture struct {
	root    *signing.PrivateKey
	signers map[signing.Alg]*Signer
	list    *signing.TrustList
}

// testBind keeps the tests fast; production lists use signing.DefaultBind.
var testBind = signing.BindParams{Time: 1, MemoryKiB: 1024, Threads: 1}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	f, err := makeFixture()
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func makeFixture() (*fixture, error) {
	f := &fixture{signers: map[signing.Alg]*Signer{}}
	var err error
	if f.root, err = signing.GenerateKey(signing.EdDSA); err != nil {
		return nil, err
	}
	l := &signing.TrustList{Version: 1, Seq: 7, IssuedAt: t0.Add(-24 * time.Hour)}
	for _, alg := range []signing.Alg{signing.ES256, signing.EdDSA, signing.SM2SM3} {
		k, err := signing.GenerateKey(alg)
		if err != nil {
			return nil, err
		}
		id := "510000-" + string(alg)
		f.signers[alg] = &Signer{Issuer: id, Key: k, Binding: testBind}
		l.Issuers = append(l.Issuers, signing.Issuer{
			ID: id, Name: "test " + string(alg), Region: "510000",
			Classes: []int{1, 2, 3}, Binding: testBind,
			Keys: []signing.IssuerKey{signing.NewIssuerKey(k.Public(), t0.AddDate(-1, 0, 0), t0.AddDate(1, 0, 0))},
		})
	}
	doc, err := signing.SignTrustList(l, f.root)
	if err != nil {
		return nil, err
	}
	if f.list, err = OpenDocument(doc, f.root.Public()); err != nil {
		return nil, err
	}
	return f, nil
}

func (f *fixture) verifier(t testing.TB, o Options) *Verifier {
	t.Helper()
	if o.Trust == nil {
		o.Trust = StaticTrust{f.list}
	}
	if o.Clock == nil {
		o.Clock = fixedClock{t: t0}
	}
	v, err := NewVerifier(o)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func (f *fixture) issue(t testing.TB, alg signing.Alg, r CodeRequest) (string, Claims) {
	t.Helper()
	if r.IssuedAt.IsZero() {
		r.IssuedAt = t0.Add(-time.Minute)
	}
	if r.Number == "" {
		r.Number = number
	}
	if r.Name == "" {
		r.Name = "张小三"
	}
	text, c, err := f.signers[alg].Issue(r)
	if err != nil {
		t.Fatal(err)
	}
	return text, c
}

var card = &Card{Type: identity.CertResident, Number: number}

func TestVerifyEveryAlgorithm(t *testing.T) {
	f := newFixture(t)
	v := f.verifier(t, Options{})
	for _, alg := range []signing.Alg{signing.ES256, signing.EdDSA, signing.SM2SM3} {
		for _, cls := range []policy.CodeClass{policy.ClassPhone, policy.ClassPrinted, policy.ClassProxy} {
			text, _ := f.issue(t, alg, CodeRequest{Status: policy.StatusGreen, Class: cls})
			if len(text) > MaxTextLen || strings.Trim(text[len(Prefix):], base45Alphabet) != "" {
				t.Fatalf("%s: text of %d characters outside the QR alphanumeric set", alg, len(text))
			}
			r := v.Verify(context.Background(), text, card)
			if r.Code.Check != policy.CodeValid || r.Code.BindMatches == nil || !*r.Code.BindMatches {
				t.Errorf("%s class %d: %+v (%v)", alg, cls, r.Code, r.Err)
			}
			if r.MaskedName() != "张*三" || r.Code.Status != policy.StatusGreen || r.Code.Class != cls {
				t.Errorf("%s: claims %+v", alg, r.Claims)
			}
			// Without a card the binding is not checked.
			if r := v.Verify(context.Background(), text, nil); r.Code.Check != policy.CodeValid || r.Code.BindMatches != nil {
				t.Errorf("%s without card: %+v", alg, r.Code)
			}
			// Another person's card: valid code, wrong person.
			r = v.Verify(context.Background(), text, &Card{Type: identity.CertResident, Number: other})
			if r.Code.Check != policy.CodeValid || r.Code.BindMatches == nil || *r.Code.BindMatches {
				t.Errorf("%s with another card: %+v", alg, r.Code)
			}
		}
	}
}

// TestVerifyFailures: each failure has its own check result.
func TestVerifyFailures(t *testing.T) {
	f := newFixture(t)
	good, goodClaims := f.issue(t, signing.EdDSA, CodeRequest{Status: policy.StatusGreen, Class: policy.ClassPrinted})

	// A code signed by a key the trust list does not hold.
	stranger, _ := signing.GenerateKey(signing.EdDSA)
	untrusted, _, _ := (&Signer{Issuer: "510000-signing.EdDSA", Key: stranger, Binding: testBind}).Issue(CodeRequest{Class: policy.ClassPhone, Number: number, IssuedAt: t0})
	// Claims changed after signing: same header and signature, other payload.
	forged := tamper(t, f, good)
	// Signed by the signing.ES256 issuer's key but claiming to be the signing.EdDSA issuer.
	otherIss := goodClaims
	otherIss.Issuer = "510000-signing.EdDSA"
	wrongIssuer, _ := f.signers[signing.ES256].Sign(otherIss)
	phoneOld, _ := f.issue(t, signing.ES256, CodeRequest{Class: policy.ClassPhone, IssuedAt: t0.Add(-6 * time.Minute)})
	phoneLongSigned, _ := f.issue(t, signing.ES256, CodeRequest{Class: policy.ClassPhone, IssuedAt: t0.Add(-10 * time.Minute), Validity: 24 * time.Hour})
	future, _ := f.issue(t, signing.ES256, CodeRequest{Class: policy.ClassPhone, IssuedAt: t0.Add(10 * time.Minute)})
	beforeKey, _ := f.issue(t, signing.ES256, CodeRequest{Class: policy.ClassPrinted, IssuedAt: t0.AddDate(-2, 0, 0), Validity: 3 * 365 * 24 * time.Hour})
	revoked, revokedClaims := f.issue(t, signing.SM2SM3, CodeRequest{Class: policy.ClassPhone})

	// An issuer that issues phone codes only.
	phoneOnly := *f.list
	phoneOnly.Issuers = append([]signing.Issuer(nil), f.list.Issuers...)
	for i := range phoneOnly.Issuers {
		phoneOnly.Issuers[i].Classes = []int{int(policy.ClassPhone)}
	}
	phoneOnlyList := rebuild(t, &phoneOnly)

	cases := []struct {
		name  string
		text  string
		opts  Options
		check policy.CodeCheck
	}{
		{"good", good, Options{}, policy.CodeValid},
		{"not jkm1", "https://jkm.sc.gov.cn/x?c=123", Options{}, policy.CodeNotOffline},
		{"bad base45", "JKM1:abc", Options{}, policy.CodeMalformed},
		{"not cbor", "JKM1:" + Base45Encode([]byte{0xff, 0x00}), Options{}, policy.CodeMalformed},
		{"too long", "JKM1:" + strings.Repeat("0", 1200), Options{}, policy.CodeMalformed},
		{"unknown kid", untrusted, Options{}, policy.CodeUntrusted},
		{"no trust list", good, Options{Trust: StaticTrust{}}, policy.CodeUntrusted},
		{"issuer claim of another issuer", wrongIssuer, Options{}, policy.CodeUntrusted},
		{"issued before the key was valid", beforeKey, Options{}, policy.CodeUntrusted},
		{"forged", forged, Options{}, policy.CodeForged},
		{"class not allowed", good, Options{Trust: StaticTrust{phoneOnlyList}}, policy.CodeClassNotAllowed},
		{"phone code older than 5 min", phoneOld, Options{}, policy.CodeExpired},
		{"phone code signed for a day", phoneLongSigned, Options{}, policy.CodeExpired},
		{"printed code after 7 days", good, Options{Clock: fixedClock{t: t0.AddDate(0, 0, 8)}}, policy.CodeExpired},
		{"not yet valid", future, Options{}, policy.CodeNotYetValid},
		{"revoked", revoked, Options{Revoked: revokedSet{string(revokedClaims.CID): true}}, policy.CodeRevoked},
		{"revocation unknown", revoked, Options{Revoked: revokedSet{"error": true}}, policy.CodeNotOffline},
		{"clock untrusted", good, Options{Clock: fixedClock{err: ErrTimeUntrusted}}, policy.CodeTimeUntrusted},
		{"clock before the trust list", good, Options{Clock: fixedClock{t: t0.AddDate(0, -1, 0)}}, policy.CodeTimeUntrusted},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := f.verifier(t, tc.opts).Verify(context.Background(), tc.text, card)
			if r.Code.Check != tc.check {
				t.Fatalf("check %q (%v), want %q", r.Code.Check, r.Err, tc.check)
			}
			if tc.check != policy.CodeValid && r.Err == nil {
				t.Error("no reason given")
			}
			if r.Err != nil && strings.Contains(r.Err.Error(), number) {
				t.Error("the reason holds the card number")
			}
		})
	}
}

// tamper re-signs nothing: it swaps the payload of a signed code for one with a red→green change.
func tamper(t *testing.T, f *fixture, text string) string {
	t.Helper()
	m, err := parse(text)
	if err != nil {
		t.Fatal(err)
	}
	c := m.claims
	c.Status = policy.StatusRed
	payload, _ := encMode.Marshal(c.payloadMap())
	raw, _ := encMode.Marshal([]any{m.protected, map[int64]any{}, payload, m.signature})
	return Prefix + Base45Encode(raw)
}

func rebuild(t *testing.T, l *signing.TrustList) *signing.TrustList {
	t.Helper()
	root, _ := signing.GenerateKey(signing.ES256)
	doc, err := signing.SignTrustList(l, root)
	if err != nil {
		t.Fatal(err)
	}
	out, err := OpenDocument(doc, root.Public())
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestCollidingKids: every key with the code's kid is tried, not only the first the list holds.
// Two issuers listing the same key give the same kid twice with valid kids; a code of either
// issuer must verify, whichever comes first in the list.
func TestCollidingKids(t *testing.T) {
	f := newFixture(t)
	shared := f.signers[signing.EdDSA].Key
	l := &signing.TrustList{Version: 1, Seq: 8, IssuedAt: f.list.IssuedAt}
	for _, id := range []string{"510000-A", "510000-B"} {
		l.Issuers = append(l.Issuers, signing.Issuer{ID: id, Classes: []int{1, 2, 3}, Binding: testBind,
			Keys: []signing.IssuerKey{signing.NewIssuerKey(shared.Public(), t0.AddDate(-1, 0, 0), t0.AddDate(1, 0, 0))}})
	}
	list := rebuild(t, l)
	if n := len(list.Keys(shared.Public().KID())); n != 2 {
		t.Fatalf("test setup: %d keys with the kid, want 2", n)
	}
	v := f.verifier(t, Options{Trust: StaticTrust{list}})
	for _, id := range []string{"510000-A", "510000-B"} {
		s := &Signer{Issuer: id, Key: shared, Binding: testBind}
		text, _, err := s.Issue(CodeRequest{Class: policy.ClassPhone, Number: number, IssuedAt: t0.Add(-time.Minute)})
		if err != nil {
			t.Fatal(err)
		}
		if r := v.Verify(context.Background(), text, card); r.Code.Check != policy.CodeValid || r.Issuer != id {
			t.Errorf("code of %s: %+v %v (issuer %s)", id, r.Code, r.Err, r.Issuer)
		}
	}
}

func TestBindingByLastFour(t *testing.T) {
	f := newFixture(t)
	v := f.verifier(t, Options{})
	s := f.signers[signing.EdDSA]
	c := Claims{Issuer: s.Issuer, CID: make([]byte, CIDSize), Status: policy.StatusGreen, Class: policy.ClassPhone,
		IssuedAt: t0.Add(-time.Minute), Expires: t0.Add(time.Minute), IDLast4: "447x"}
	text, _ := s.Sign(c)
	for _, tc := range []struct {
		number string
		want   bool
	}{{number, true}, {other, false}} {
		r := v.Verify(context.Background(), text, &Card{Type: identity.CertResident, Number: tc.number})
		if r.Code.Check != policy.CodeValid || *r.Code.BindMatches != tc.want {
			t.Errorf("card …%s: %+v", tc.number[14:], r.Code)
		}
	}
	c.IDLast4 = ""
	text, _ = s.Sign(c)
	if r := v.Verify(context.Background(), text, card); *r.Code.BindMatches {
		t.Error("a code with neither binding nor last four characters matched a card")
	}
}

// TestBindingExactInput pins the binding to the spec's exact input, so other issuers' codes match.
func TestBindingExactInput(t *testing.T) {
	cid := []byte("0123456789abcdef")
	a := Binding(signing.DefaultBind, identity.CertResident, "11010119900307447x", cid)
	b := Binding(signing.DefaultBind, identity.CertResident, "110101 19900307447X", cid)
	if string(a) != string(b) || len(a) != BindSize {
		t.Fatalf("canonical form not applied: %x vs %x", a, b)
	}
	if c := Binding(signing.DefaultBind, identity.CertForeigner, "11010119900307447X", cid); string(c) == string(a) {
		t.Error("certificate type not part of the binding")
	}
}

func TestClaimsLimits(t *testing.T) {
	f := newFixture(t)
	s := f.signers[signing.EdDSA]
	base := Claims{Issuer: s.Issuer, CID: make([]byte, CIDSize), Status: policy.StatusGreen, Class: policy.ClassPrinted,
		IssuedAt: t0.Add(-time.Minute), Expires: t0.Add(time.Hour), Bind: make([]byte, BindSize)}
	cases := map[string]func(c *Claims){
		"reserved colour":       func(c *Claims) { c.Status = 4 },
		"class 0":               func(c *Claims) { c.Class = 0 },
		"short cid":             func(c *Claims) { c.CID = c.CID[:8] },
		"printed without bind":  func(c *Claims) { c.Bind = nil },
		"exp before iat":        func(c *Claims) { c.Expires = c.IssuedAt.Add(-time.Second) },
		"issuer name too long":  func(c *Claims) { c.Issuer = strings.Repeat("x", 65) },
		"bind of the wrong len": func(c *Claims) { c.Bind = c.Bind[:15] },
	}
	for name, change := range cases {
		c := base
		change(&c)
		text, err := s.Sign(c)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := parse(text); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v, want malformed", name, err)
		}
	}
	// Duplicate keys, indefinite lengths and deep nesting are refused before any cryptography.
	for name, payload := range map[string][]byte{
		"duplicate key":     {0xa2, 0x01, 0x01, 0x01, 0x01},
		"indefinite map":    {0xbf, 0x01, 0x01, 0xff},
		"too deep":          {0xa1, 0x0c, 0x81, 0x81, 0x81, 0x81, 0x01},
		"text key":          {0xa1, 0x61, 0x76, 0x01},
		"trailing bytes":    {0xa0, 0x00},
		"negative version":  {0xa1, 0x01, 0x20},
		"tag inside":        {0xa1, 0x01, 0xc1, 0x01},
		"not a map":         {0x01},
		"unknown keys only": {0xa1, 0x18, 0x63, 0x01},
	} {
		raw, err := SignPayload(s.Key, payload)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := parseCOSE(raw); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v, want malformed", name, err)
		}
	}
	// Unknown integer keys are ignored.
	m := base.payloadMap()
	m[99] = "future"
	payload, _ := encMode.Marshal(m)
	raw, _ := SignPayload(s.Key, payload)
	if _, err := parseCOSE(raw); err != nil {
		t.Errorf("unknown key: %v", err)
	}
	// Untagged COSE_Sign1 is accepted too.
	if _, err := parseCOSE(raw[1:]); err != nil {
		t.Errorf("untagged: %v", err)
	}
}

// TestTrustDocument: the verifier's opener is signing.OpenTrustList (tested there) plus the code
// classes an issuer may name.
func TestTrustDocument(t *testing.T) {
	f := newFixture(t)
	doc, err := signing.SignTrustList(f.list, f.root)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := OpenDocument(doc, f.root.Public()); err != nil {
		t.Fatalf("good document: %v", err)
	}
	other, _ := signing.GenerateKey(signing.EdDSA)
	if _, err := OpenDocument(doc, other.Public()); !errors.Is(err, signing.ErrTrustList) {
		t.Errorf("another root: %v, want a trust-list error", err)
	}
	for _, cls := range []int{0, 4, -1} {
		l := *f.list
		l.Issuers = append([]signing.Issuer(nil), f.list.Issuers...)
		l.Issuers[1].Classes = []int{1, cls}
		doc, _ := signing.SignTrustList(&l, f.root)
		if _, err := signing.OpenTrustList(doc, f.root.Public()); err != nil {
			t.Fatalf("class %d: the signing package judges no classes: %v", cls, err)
		}
		if _, err := OpenDocument(doc, f.root.Public()); !errors.Is(err, signing.ErrTrustList) || !strings.Contains(err.Error(), "class") {
			t.Errorf("class %d: %v, want a trust-list error about the class", cls, err)
		}
	}
}

type docStore struct {
	seq int64
	doc []byte
}

func (d *docStore) TrustList(context.Context) (int64, []byte, error) { return d.seq, d.doc, nil }

func TestStoredTrust(t *testing.T) {
	f := newFixture(t)
	ds := &docStore{}
	st := NewStoredTrust(ds, f.root.Public())
	if l, err := st.Current(context.Background()); l != nil || err != nil {
		t.Fatalf("empty store: %v %v", l, err)
	}
	ds.seq = 7
	ds.doc, _ = signing.SignTrustList(f.list, f.root)
	if l, err := st.Current(context.Background()); err != nil || l.Seq != 7 {
		t.Fatalf("stored list: %v %v", l, err)
	}
	ds.doc = []byte(strings.Replace(string(ds.doc), `"payload":"ey`, `"payload":"eX`, 1))
	if _, err := st.Current(context.Background()); err == nil {
		t.Fatal("a tampered stored list was believed")
	}
}

func TestTrustedTime(t *testing.T) {
	ctx := context.Background()
	device := func() time.Time { return t0 }
	skew := func(d time.Duration, ok bool) func(context.Context) (time.Duration, bool, error) {
		return func(context.Context) (time.Duration, bool, error) { return d, ok, nil }
	}
	floor := func(ft time.Time) func(context.Context) (time.Time, error) {
		return func(context.Context) (time.Time, error) { return ft, nil }
	}
	cases := []struct {
		name string
		tt   TrustedTime
		want time.Time
		err  bool
	}{
		{"clock agrees", TrustedTime{Device: device, Skew: skew(time.Second, true)}, t0.Add(-time.Second), false},
		{"small skew corrected", TrustedTime{Device: device, Skew: skew(90*time.Second, true)}, t0.Add(-90 * time.Second), false},
		{"too much skew", TrustedTime{Device: device, Skew: skew(3*time.Minute, true)}, time.Time{}, true},
		{"too much skew behind", TrustedTime{Device: device, Skew: skew(-time.Hour, true)}, time.Time{}, true},
		{"not measured, floor", TrustedTime{Device: device, Skew: skew(0, false), Floors: []func(context.Context) (time.Time, error){floor(t0.Add(-time.Hour))}}, t0, false},
		{"clock set back behind a signed time", TrustedTime{Device: device, Floors: []func(context.Context) (time.Time, error){floor(t0.Add(time.Hour))}}, time.Time{}, true},
		{"slightly behind the floor: floor", TrustedTime{Device: device, Floors: []func(context.Context) (time.Time, error){floor(t0.Add(time.Minute))}}, t0.Add(time.Minute), false},
	}
	for _, tc := range cases {
		got, err := tc.tt.Now(ctx)
		if (err != nil) != tc.err || (!tc.err && !got.Equal(tc.want)) {
			t.Errorf("%s: %v, %v; want %v (error %v)", tc.name, got, err, tc.want, tc.err)
		}
		if err != nil && !errors.Is(err, ErrTimeUntrusted) {
			t.Errorf("%s: %v does not wrap ErrTimeUntrusted", tc.name, err)
		}
	}
}
