package wire

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"onepass/signing"
)

type keys struct {
	root, batch crypto.Signer
	rootSPKI    []byte
	signer      *Signer
}

func newKeys(t testing.TB, rootES256 bool) keys {
	t.Helper()
	var root crypto.Signer
	if rootES256 {
		root, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	} else {
		_, root, _ = ed25519.GenerateKey(rand.Reader)
	}
	_, batch, _ := ed25519.GenerateKey(rand.Reader)
	now := time.Now()
	cert, err := CertifyKey(root, batch.Public(), now.Add(-time.Hour), now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewSigner(batch, cert)
	if err != nil {
		t.Fatal(err)
	}
	spki, _ := x509.MarshalPKIXPublicKey(root.Public())
	return keys{root: root, batch: batch, rootSPKI: spki, signer: s}
}

func head(at time.Time) Head {
	return Head{Header: Header{V: Major, Type: TypeHead, IssuedAt: at}, Device: "d-1", Nonce: "n", Status: StatusHead{Epoch: 1, Seq: 7}}
}

func TestSealOpen(t *testing.T) {
	for _, es := range []bool{false, true} {
		k := newKeys(t, es)
		v, err := NewVerifier(k.rootSPKI)
		if err != nil {
			t.Fatal(err)
		}
		body, err := k.signer.Seal(head(time.Now()))
		if err != nil {
			t.Fatal(err)
		}
		var h Head
		if _, err := v.Open(body, TypeHead, &h); err != nil {
			t.Fatalf("root ES256=%v: %v", es, err)
		}
		if h.Status.Seq != 7 || h.Device != "d-1" {
			t.Fatalf("decoded %+v", h)
		}
	}
}

// TestOpenRefuses: every way a body can be wrong has its own error, and none passes.
func TestOpenRefuses(t *testing.T) {
	k := newKeys(t, false)
	other := newKeys(t, false)
	v, _ := NewVerifier(k.rootSPKI)
	good, _ := k.signer.Seal(head(time.Now()))
	mutate := func(f func(*Envelope)) []byte {
		var env Envelope
		json.Unmarshal(good, &env)
		f(&env)
		b, _ := json.Marshal(env)
		return b
	}
	foreign, _ := other.signer.Seal(head(time.Now()))
	late, _ := k.signer.Seal(head(time.Now().Add(2 * time.Hour)))
	v2 := head(time.Now())
	v2.V = 2
	major2, _ := k.signer.Seal(v2)
	tests := []struct {
		name string
		body []byte
		typ  string
		want string
	}{
		{"flipped signature", mutate(func(e *Envelope) { e.Signature[0] ^= 1 }), TypeHead, "bad signature"},
		{"changed payload", mutate(func(e *Envelope) { e.Payload = bytes.Replace(e.Payload, []byte(`"seq":7`), []byte(`"seq":9`), 1) }), TypeHead, "bad signature"},
		{"no signer", mutate(func(e *Envelope) { e.Signer = nil }), TypeHead, "no signer certificate"},
		{"signer cert tampered", mutate(func(e *Envelope) { e.Signer.Payload = append(e.Signer.Payload[:len(e.Signer.Payload)-1], ' ', '}') }), TypeHead, "root signature"},
		{"another platform", foreign, TypeHead, "not the pinned root"},
		{"wrong type", good, TypeDelta, `payload type "head", want "status_delta"`},
		{"major 2", major2, TypeHead, "unknown protocol major version 2"},
		{"outside signer validity", late, TypeHead, "outside its signer's validity"},
		{"not json", []byte("{"), TypeHead, "not a signed envelope"},
		{"empty", []byte(`{}`), TypeHead, "without payload"},
		{"huge", bytes.Repeat([]byte(" "), MaxBodyBytes+1), TypeHead, "exceeds"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := v.Open(tc.body, tc.typ, &Head{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Open: %v, want %q", err, tc.want)
			}
		})
	}
}

func TestRootDocument(t *testing.T) {
	k := newKeys(t, true)
	v, _ := NewVerifier(k.rootSPKI)
	env, err := SignEnvelope(k.root, []byte(`{"version":1,"seq":3}`))
	if err != nil {
		t.Fatal(err)
	}
	doc, _ := json.Marshal(env)
	if !strings.Contains(string(doc), `"alg":"ES256"`) || strings.Contains(string(doc), "signer") {
		t.Errorf("trust document shape: %s", doc)
	}
	if p, err := v.OpenRoot(doc); err != nil || string(p) != `{"version":1,"seq":3}` {
		t.Fatalf("OpenRoot: %s %v", p, err)
	}
	// A hub body is not a root document: the batch key is not the root.
	body, _ := k.signer.Seal(head(time.Now()))
	if _, err := v.OpenRoot(body); !errors.Is(err, signing.ErrSignature) {
		t.Fatalf("hub body as root document: %v", err)
	}
}

func TestDigestArithmetic(t *testing.T) {
	var d Digest
	hs := make([][16]byte, 50)
	for i := range hs {
		hs[i] = RowHash(bytes.Repeat([]byte{byte(i)}, 32), i%4, int64(i)*1000, 0, "r")
		d.Add(hs[i])
	}
	// Order does not matter, and removing every row gets back to zero.
	var e Digest
	for i := len(hs) - 1; i >= 0; i-- {
		e.Add(hs[i])
	}
	if d != e {
		t.Fatal("digest depends on order")
	}
	for _, h := range hs {
		d.Sub(h)
	}
	if d != (Digest{}) {
		t.Fatalf("digest after removing all rows: %x", d)
	}
	// Carries cross the 64-bit halves.
	var c Digest
	max := [16]byte{8: 0xff, 9: 0xff, 10: 0xff, 11: 0xff, 12: 0xff, 13: 0xff, 14: 0xff, 15: 0xff}
	c.Add(max)
	c.Add([16]byte{15: 1})
	if c != (Digest{7: 1}) {
		t.Fatalf("carry: %x", c)
	}
	c.Sub([16]byte{15: 1})
	if c != Digest(max) {
		t.Fatalf("borrow: %x", c)
	}
	// Any field changes the row hash.
	k := bytes.Repeat([]byte{1}, 32)
	base := RowHash(k, 1, 1, 2, "a")
	for _, h := range [][16]byte{RowHash(k, 2, 1, 2, "a"), RowHash(k, 1, 2, 2, "a"), RowHash(k, 1, 1, 3, "a"), RowHash(k, 1, 1, 2, "b")} {
		if h == base {
			t.Fatal("row hash ignores a field")
		}
	}
}

func TestPackDigests(t *testing.T) {
	var d [Partitions]Digest
	d[3][0], d[255][15] = 7, 9
	got, err := UnpackDigests(PackDigests(&d))
	if err != nil || *got != d {
		t.Fatalf("round trip: %v", err)
	}
	if _, err := UnpackDigests(make([]byte, 100)); err == nil {
		t.Fatal("short digests accepted")
	}
}

func TestDeploymentKeySealing(t *testing.T) {
	dev, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	key := bytes.Repeat([]byte{0x42}, 32)
	sealed, err := SealDeploymentKey(&dev.PublicKey, "d-1", 2, key)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := OpenDeploymentKey(dev, "d-1", 2, sealed); err != nil || !bytes.Equal(got, key) {
		t.Fatalf("open: %v", err)
	}
	for name, f := range map[string]func() error{
		"another device key": func() error { _, err := OpenDeploymentKey(other, "d-1", 2, sealed); return err },
		"another device id":  func() error { _, err := OpenDeploymentKey(dev, "d-2", 2, sealed); return err },
		"another epoch":      func() error { _, err := OpenDeploymentKey(dev, "d-1", 3, sealed); return err },
	} {
		if f() == nil {
			t.Errorf("%s: opened", name)
		}
	}
}

func TestCheckOp(t *testing.T) {
	k := make([]byte, 32)
	for _, tc := range []struct {
		op StatusOp
		ok bool
	}{
		{StatusOp{Key: k, Status: 3}, true},
		{StatusOp{Key: k, Del: true}, true},
		{StatusOp{Key: k[:31], Status: 1}, false},
		{StatusOp{Key: k, Status: 4}, false},
		{StatusOp{Key: k, Status: -1}, false},
		{StatusOp{Key: k, Status: 1, Reason: strings.Repeat("x", 300)}, false},
	} {
		if err := CheckOp(tc.op); (err == nil) != tc.ok {
			t.Errorf("CheckOp(%+v) = %v", tc.op, err)
		}
	}
}

// FuzzOpen: whatever bytes arrive, Open and OpenRoot return an error or a verified payload,
// never panic, and never accept a body the key did not sign.
func FuzzOpen(f *testing.F) {
	k := newKeys(f, false)
	v, _ := NewVerifier(k.rootSPKI)
	good, _ := k.signer.Seal(head(time.Now()))
	f.Add(good)
	f.Add([]byte(`{"payload":"e30=","alg":"EdDSA","kid":"AAAAAAAAAAA=","signature":"AA==","signer":{}}`))
	f.Add([]byte(`{"payload":null}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, body []byte) {
		var h Head
		payload, err := v.Open(body, TypeHead, &h)
		if err == nil {
			var env Envelope
			if json.Unmarshal(body, &env) != nil || !bytes.Equal(payload, env.Payload) {
				t.Fatal("accepted a body whose payload is not the envelope's")
			}
			if pub, _ := signing.PublicKeyOf(k.batch.Public()); pub.Verify(env.Payload, env.Signature) != nil {
				t.Fatal("accepted a payload the batch key did not sign")
			}
		}
		v.OpenRoot(body)
	})
}
