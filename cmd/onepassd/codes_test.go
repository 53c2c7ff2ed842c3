package main

import (
	"context"
	"log/slog"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

	"onepass/identity"
	"onepass/kiosk/healthcode"
	"onepass/kiosk/policy"
	"onepass/signing"
	"onepass/sync/store"
)

// TestCodeVerifierFromStore: the daemon's verifier reads the trust list, revocations, the measured
// clock skew and the signed time floor from the store.
func TestCodeVerifierFromStore(t *testing.T) {
	ctx := context.Background()
	db, err := store.Open(ctx, filepath.Join(t.TempDir(), "onepass.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	now := time.Now().UTC().Truncate(time.Second)
	root, _ := signing.GenerateKey(signing.EdDSA)
	iss, _ := signing.GenerateKey(signing.ES256)
	l := &signing.TrustList{Version: 1, Seq: 1, IssuedAt: now.Add(-time.Hour), Issuers: []signing.Issuer{{
		ID: "SIM", Classes: []int{1, 2, 3}, Binding: signing.BindParams{Time: 1, MemoryKiB: 1024, Threads: 1},
		Keys: []signing.IssuerKey{signing.NewIssuerKey(iss.Public(), now.AddDate(0, 0, -1), now.AddDate(1, 0, 0))},
	}}}
	doc, _ := signing.SignTrustList(l, root)
	if err := db.PutTrustList(ctx, 1, doc); err != nil {
		t.Fatal(err)
	}
	signer := &healthcode.Signer{Issuer: "SIM", Key: iss, Binding: l.Issuers[0].Binding}
	text, claims, err := signer.Issue(healthcode.CodeRequest{Status: policy.StatusGreen, Class: policy.ClassPhone, Number: "110101199003074477", Name: "张三"})
	if err != nil {
		t.Fatal(err)
	}
	clock := clockwork.NewFakeClockAt(now)
	v, err := newCodeVerifier(db, root.Public(), 2*time.Minute, clock, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	card := &healthcode.Card{Type: identity.CertResident, Number: "110101199003074477"}
	check := func(want policy.CodeCheck) {
		t.Helper()
		c, name := v.Verify(ctx, text, card)
		if c.Check != want {
			t.Fatalf("check %s, want %s", c.Check, want)
		}
		if want == policy.CodeValid && (name != "张*" || !*c.BindMatches) {
			t.Fatalf("valid code: %+v %q", c, name)
		}
	}
	check(policy.CodeValid)
	// The hub says the kiosk's clock is 10 minutes slow: too much skew to judge validity.
	db.SetMeta(ctx, store.MetaClockSkew, []byte(strconv.Itoa(int((10 * time.Minute).Milliseconds()))))
	check(policy.CodeTimeUntrusted)
	db.SetMeta(ctx, store.MetaClockSkew, []byte("1500"))
	check(policy.CodeValid)
	// A signed time an hour ahead of the kiosk's clock: the clock was set back.
	db.SetMeta(ctx, store.MetaTimeFloor, []byte(now.Add(time.Hour).Format(time.RFC3339Nano)))
	check(policy.CodeTimeUntrusted)
	db.SetMeta(ctx, store.MetaTimeFloor, []byte(now.Add(-time.Minute).Format(time.RFC3339Nano)))
	check(policy.CodeValid)
	if err := db.PutRevoked(ctx, store.Revocation{CID: claims.CID, Expires: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	check(policy.CodeRevoked)

	// Without a root key nothing is trusted.
	v2, _ := newCodeVerifier(db, nil, 2*time.Minute, clock, slog.New(slog.DiscardHandler))
	if c, _ := v2.Verify(ctx, text, nil); c.Check != policy.CodeUntrusted {
		t.Errorf("no root: %s", c.Check)
	}
}
