package signing

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)

// trustFixture is a root and a list with one issuer per algorithm.
type trustFixture struct {
	root    *PrivateKey
	issuers map[Alg]*PrivateKey
	list    *TrustList
}

func newTrustFixture(t testing.TB) *trustFixture {
	t.Helper()
	f := &trustFixture{root: mustKey(t, EdDSA), issuers: map[Alg]*PrivateKey{}}
	f.list = &TrustList{Version: 1, Seq: 7, IssuedAt: t0}
	for _, alg := range algs {
		k := mustKey(t, alg)
		f.issuers[alg] = k
		f.list.Issuers = append(f.list.Issuers, Issuer{ID: "510000-" + string(alg), Name: "test", Region: "510000",
			Classes: []int{1, 2, 3}, Binding: DefaultBind,
			Keys: []IssuerKey{NewIssuerKey(k.Public(), t0.AddDate(-1, 0, 0), t0.AddDate(1, 0, 0))}})
	}
	return f
}

// signed signs a copy of the list changed by edit.
func (f *trustFixture) signed(t testing.TB, edit func(l *TrustList)) []byte {
	t.Helper()
	l := *f.list
	l.Issuers = nil
	for _, is := range f.list.Issuers {
		is.Keys = append([]IssuerKey(nil), is.Keys...)
		l.Issuers = append(l.Issuers, is)
	}
	if edit != nil {
		edit(&l)
	}
	doc, err := SignTrustList(&l, f.root)
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

func TestOpenTrustList(t *testing.T) {
	f := newTrustFixture(t)
	good := f.signed(t, nil)
	otherRoot := mustKey(t, EdDSA)
	esRoot := mustKey(t, ES256)
	resign := func(payload string) []byte {
		d, _ := NewDocument(f.root, []byte(payload))
		b, _ := json.Marshal(d)
		return b
	}
	cases := []struct {
		name string
		doc  []byte
		root *PublicKey
		want string // "" accepted
	}{
		{"good", good, f.root.Public(), ""},
		{"sync envelope field ignored", []byte(strings.Replace(string(good), `{"payload"`, `{"signer":null,"payload"`, 1)), f.root.Public(), ""},
		{"another root", good, otherRoot.Public(), "not the pinned root"},
		{"another algorithm", good, esRoot.Public(), "pinned root"},
		{"no root", good, nil, "no root key"},
		{"payload changed", []byte(strings.Replace(string(good), `"payload":"ey`, `"payload":"eX`, 1)), f.root.Public(), "bad signature"},
		{"not json", []byte("{"), f.root.Public(), "document"},
		{"data after the object", append(bytes.Clone(good), []byte(` {}`)...), f.root.Public(), "data after"},
		{"too big", bytes.Repeat([]byte(" "), MaxTrustDocument+1), f.root.Public(), "over"},
		{"empty signature", []byte(`{"payload":"e30=","alg":"EdDSA","kid":"","signature":""}`), f.root.Public(), "pinned root"},
		{"version 2", resign(`{"version":2,"seq":1,"issued_at":"2026-01-01T00:00:00Z"}`), f.root.Public(), "version 2"},
		{"seq 0", resign(`{"version":1,"seq":0,"issued_at":"2026-01-01T00:00:00Z"}`), f.root.Public(), "seq 0"},
		{"no issued_at", resign(`{"version":1,"seq":1}`), f.root.Public(), "issued_at"},
		{"payload not json", resign(`[`), f.root.Public(), "payload"},
		{"repeated issuer", f.signed(t, func(l *TrustList) { l.Issuers[1].ID = l.Issuers[0].ID }), f.root.Public(), "repeated id"},
		{"empty issuer id", f.signed(t, func(l *TrustList) { l.Issuers[0].ID = "" }), f.root.Public(), "repeated id"},
		{"binding too costly", f.signed(t, func(l *TrustList) { l.Issuers[0].Binding.MemoryKiB = 1 << 20 }), f.root.Public(), "binding parameters"},
		{"no binding", f.signed(t, func(l *TrustList) { l.Issuers[0].Binding = BindParams{} }), f.root.Public(), "binding parameters"},
		{"alg not the key's", f.signed(t, func(l *TrustList) { l.Issuers[0].Keys[0].Alg = EdDSA }), f.root.Public(), "alg"},
		{"kid not the key's", f.signed(t, func(l *TrustList) { l.Issuers[0].Keys[0].KID = []byte("01234567") }), f.root.Public(), "kid"},
		{"short kid", f.signed(t, func(l *TrustList) { l.Issuers[0].Keys[0].KID = []byte("0123") }), f.root.Public(), "kid"},
		{"key not a key", f.signed(t, func(l *TrustList) { l.Issuers[0].Keys[0].PublicKey = []byte{1, 2, 3} }), f.root.Public(), "public key"},
		{"validity reversed", f.signed(t, func(l *TrustList) { k := &l.Issuers[0].Keys[0]; k.NotAfter = k.NotBefore }), f.root.Public(), "not_after"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			l, err := OpenTrustList(tc.doc, tc.root)
			if tc.want == "" {
				if err != nil || l.Seq != 7 || len(l.Issuers) != 3 {
					t.Fatalf("%v %+v", err, l)
				}
				return
			}
			if !errors.Is(err, ErrTrustList) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("%v, want a trust-list error naming %q", err, tc.want)
			}
		})
	}
}

// TestTrustListShape pins the JSON of the list: the hub publishes it, the store holds it and
// other issuers' tools read it; the field names and order are the spec's.
func TestTrustListShape(t *testing.T) {
	k := NewIssuerKey(&PublicKey{alg: EdDSA, spki: []byte{1}}, t0, t0.Add(time.Hour))
	l := TrustList{Version: 1, Seq: 2, IssuedAt: t0, Issuers: []Issuer{{ID: "A", Name: "n", Region: "r",
		Classes: []int{1}, Binding: DefaultBind, Keys: []IssuerKey{k}}}}
	b, err := json.Marshal(l)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"version":1,"seq":2,"issued_at":"2026-11-26T09:00:00Z","issuers":[{"id":"A","name":"n","region":"r",` +
		`"classes":[1],"binding":{"time":1,"memory_kib":8192,"threads":1},"keys":[{"kid":"S/USLzRFVMU=","alg":"EdDSA",` +
		`"public_key":"AQ==","not_before":"2026-11-26T09:00:00Z","not_after":"2026-11-26T10:00:00Z"}]}]}`
	if string(b) != want {
		t.Errorf("trust list JSON\n got %s\nwant %s", b, want)
	}
	d, _ := json.Marshal(Document{Payload: []byte("{}"), Alg: ES256, KID: []byte{1}, Signature: []byte{2}})
	if string(d) != `{"payload":"e30=","alg":"ES256","kid":"AQ==","signature":"Ag=="}` {
		t.Errorf("document JSON %s", d)
	}
}

func TestCheckNewer(t *testing.T) {
	l := &TrustList{Seq: 7}
	for _, tc := range []struct {
		held int64
		err  bool
	}{{0, false}, {6, false}, {7, false}, {8, true}} {
		err := l.CheckNewer(tc.held)
		if (err != nil) != tc.err || (err != nil && !errors.Is(err, ErrRollback)) {
			t.Errorf("held %d: %v", tc.held, err)
		}
	}
}

// TestCollidingKIDs: every key with a kid is returned, in list order, even when two issuers list
// the same key; a kid of the wrong length finds nothing.
func TestCollidingKIDs(t *testing.T) {
	f := newTrustFixture(t)
	shared := f.issuers[EdDSA].Public()
	doc := f.signed(t, func(l *TrustList) {
		l.Issuers = append(l.Issuers, Issuer{ID: "510000-second", Binding: DefaultBind, Classes: []int{1},
			Keys: []IssuerKey{NewIssuerKey(shared, t0, t0.Add(time.Hour))}})
	})
	l, err := OpenTrustList(doc, f.root.Public())
	if err != nil {
		t.Fatal(err)
	}
	refs := l.Keys(shared.KID())
	if len(refs) != 2 || refs[0].Issuer.ID != "510000-EdDSA" || refs[1].Issuer.ID != "510000-second" {
		t.Fatalf("keys with kid %x: %+v", shared.KID(), refs)
	}
	sig, _ := f.issuers[EdDSA].Sign([]byte("m"))
	for _, r := range refs {
		if r.Key.Verify([]byte("m"), sig) != nil {
			t.Errorf("%s: the listed key does not verify", r.Issuer.ID)
		}
	}
	if got := l.Keys(shared.KID()[:4]); got != nil {
		t.Errorf("short kid found %v", got)
	}
	if got := l.Keys([]byte("unknown!")); got != nil {
		t.Errorf("unknown kid found %v", got)
	}
	if is, ok := l.Issuer("510000-second"); !ok || is != refs[1].Issuer {
		t.Errorf("Issuer: %v %v", is, ok)
	}
	if _, ok := l.Issuer("nobody"); ok {
		t.Error("Issuer(nobody) found")
	}
	// A list decoded without OpenTrustList has no parsed keys: nothing verifies with it.
	var raw TrustList
	json.Unmarshal(mustOpenPayload(t, doc, f.root.Public()), &raw)
	if err := raw.Issuers[1].Keys[0].Verify([]byte("m"), sig); !errors.Is(err, ErrSignature) {
		t.Errorf("unopened key verified: %v", err)
	}
}

func mustOpenPayload(t *testing.T, doc []byte, root *PublicKey) []byte {
	t.Helper()
	var d Document
	if err := json.Unmarshal(doc, &d); err != nil {
		t.Fatal(err)
	}
	p, err := d.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestIssuerKeyValidAt(t *testing.T) {
	k := IssuerKey{NotBefore: t0, NotAfter: t0.Add(time.Hour)}
	for _, tc := range []struct {
		at time.Time
		ok bool
	}{{t0.Add(-time.Second), false}, {t0, true}, {t0.Add(59 * time.Minute), true}, {t0.Add(time.Hour), false}} {
		if k.ValidAt(tc.at) != tc.ok {
			t.Errorf("ValidAt(%s) = %v", tc.at, !tc.ok)
		}
	}
}

func TestDocumentOpen(t *testing.T) {
	root := mustKey(t, ES256)
	d, err := NewDocument(root, []byte(`{"a":1}`))
	if err != nil {
		t.Fatal(err)
	}
	if p, err := d.Open(root.Public()); err != nil || string(p) != `{"a":1}` {
		t.Fatalf("Open: %s %v", p, err)
	}
	wrongAlg := d
	wrongAlg.Alg = EdDSA
	tampered := d
	tampered.Payload = []byte(`{"a":2}`)
	for name, bad := range map[string]Document{"wrong alg": wrongAlg, "tampered": tampered} {
		if _, err := bad.Open(root.Public()); !errors.Is(err, ErrSignature) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := d.Open(mustKey(t, ES256).Public()); !errors.Is(err, ErrSignature) || !strings.Contains(err.Error(), "not the pinned root") {
		t.Errorf("another root: %v", err)
	}
}
