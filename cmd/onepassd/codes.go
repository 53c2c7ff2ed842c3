package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/jonboulle/clockwork"

	"onepass/cmd/internal/config"
	"onepass/kiosk"
	"onepass/kiosk/healthcode"
	"onepass/kiosk/policy"
	"onepass/signing"
	"onepass/sync/client"
	"onepass/sync/store"
)

// codeVerifier is the kiosk's CodeVerifier: kiosk/healthcode over the trust list and revocations
// held in the store, judged against trusted time.
type codeVerifier struct {
	v      *healthcode.Verifier
	logger *slog.Logger
}

// Verify implements kiosk.CodeVerifier.
func (c codeVerifier) Verify(ctx context.Context, text string, card *healthcode.Card) (policy.Code, string) {
	r := c.v.Verify(ctx, text, card)
	if r.Code.Check != policy.CodeValid {
		// The reason never holds the card number or the code text.
		c.logger.Info("code refused", "check", r.Code.Check, "issuer", r.Issuer, "why", r.Err)
	}
	return r.Code, r.MaskedName()
}

// newCodeVerifier assembles the verifier. Without a database or a root key no code can be
// trusted: JKM1 codes are then refused as untrusted, and the log says why once.
func newCodeVerifier(db *store.Store, root *signing.PublicKey, maxSkew time.Duration, clock clockwork.Clock, logger *slog.Logger) (kiosk.CodeVerifier, error) {
	o := healthcode.Options{Trust: healthcode.StaticTrust{}, Clock: storeTime(db, maxSkew, clock)}
	switch {
	case db == nil:
		logger.Warn("health codes cannot be verified: no database")
	case root == nil:
		logger.Warn("health codes cannot be verified: no [trust] root key configured")
	default:
		o.Trust = healthcode.NewStoredTrust(db, root)
		o.Revoked = db
	}
	v, err := healthcode.NewVerifier(o)
	if err != nil {
		return nil, err
	}
	return codeVerifier{v: v, logger: logger}, nil
}

// storeTime is trusted time from what sync recorded in the store (sync/client.StoredClock).
func storeTime(db *store.Store, maxSkew time.Duration, clock clockwork.Clock) healthcode.Clock {
	t := healthcode.TrustedTime{Device: clock.Now, MaxSkew: maxSkew}
	if db != nil {
		sc := client.StoredClock(db)
		t.Skew, t.Floors = sc.Skew, sc.Floors
	}
	return t
}

// codesFor is the daemon's code verifier under the configured [trust] root (in --sim, the embedded
// hub's root, whose trust list names the simulated issuer).
func codesFor(cfg config.Config, db *store.Store, clock clockwork.Clock, logger *slog.Logger) kiosk.CodeVerifier {
	root, err := cfg.Trust.RootKey() // validated with the configuration
	if err != nil {
		logger.Error("trust root", "err", err)
	}
	v, err := newCodeVerifier(db, root, cfg.Trust.MaxSkew.Duration, clock, logger)
	if err != nil {
		logger.Error("health codes cannot be verified", "err", err)
		return nil
	}
	return v
}
