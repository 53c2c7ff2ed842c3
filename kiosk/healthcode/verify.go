package healthcode

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"onepass/identity"
	"onepass/kiosk/policy"
	"onepass/signing"
)

// TrustSource gives the verifier the trust list in force.
type TrustSource interface {
	// Current returns the verified trust list, or nil when none is held.
	Current(ctx context.Context) (*signing.TrustList, error)
}

// Revocations answers whether a code ID was revoked (sync/store.Store implements it).
type Revocations interface {
	IsRevoked(ctx context.Context, cid []byte) (bool, error)
}

// Card is the certificate on the reader, as the binding check needs it (kiosk passes it as is).
type Card struct {
	Type   identity.CertType
	Number string // canonical: checked, upper-case
}

// Options configure a Verifier. Trust and Clock are required.
type Options struct {
	Trust   TrustSource
	Revoked Revocations // nil: no revocations known
	Clock   Clock
	// Longest validity accepted per class: a code signed for longer counts as expired after this.
	MaxPhoneValidity   time.Duration // default 5 min
	MaxPrintedValidity time.Duration // printed and proxy codes; default 7 days
	// Leeway is how far in the future a code's issue time may be (issuers' clocks differ); default 1 min.
	Leeway time.Duration
}

// Verifier judges JKM1 codes offline, in the order of specs/healthcode-jkm1.md: prefix → Base45 →
// CBOR structure → kid lookup (issuer, key validity at iat, class) → signature → trusted time →
// revocation → binding.
type Verifier struct{ o Options }

// NewVerifier makes a verifier.
func NewVerifier(o Options) (*Verifier, error) {
	if o.Trust == nil || o.Clock == nil {
		return nil, errors.New("healthcode: a verifier needs a trust source and a clock")
	}
	if o.MaxPhoneValidity <= 0 {
		o.MaxPhoneValidity = 5 * time.Minute
	}
	if o.MaxPrintedValidity <= 0 {
		o.MaxPrintedValidity = 7 * 24 * time.Hour
	}
	if o.Leeway <= 0 {
		o.Leeway = time.Minute
	}
	return &Verifier{o: o}, nil
}

// Result is a verification's outcome.
type Result struct {
	Code   policy.Code
	Claims *Claims // set once the signature verified
	Issuer string  // the issuer whose key verified the signature
	Err    error   // why the check failed, for the log (never holds the card number)
}

// MaskedName is the display name the code carries, when its signature verified.
func (r Result) MaskedName() string {
	if r.Claims == nil {
		return ""
	}
	return r.Claims.MaskedName
}

func fail(check policy.CodeCheck, err error) Result {
	return Result{Code: policy.Code{Check: check}, Err: err}
}

// Verify judges a code's text. card is the certificate on the reader, nil without one.
func (v *Verifier) Verify(ctx context.Context, text string, card *Card) Result {
	if !strings.HasPrefix(text, Prefix) {
		return fail(policy.CodeNotOffline, errors.New("not a JKM1 code"))
	}
	m, err := parse(text)
	if err != nil {
		return fail(policy.CodeMalformed, err)
	}
	c := m.claims

	list, err := v.o.Trust.Current(ctx)
	if err != nil {
		return fail(policy.CodeUntrusted, fmt.Errorf("trust list: %w", err))
	}
	if list == nil {
		return fail(policy.CodeUntrusted, errors.New("no trust list held"))
	}
	cands := list.Keys(m.kid)
	if len(cands) == 0 {
		return fail(policy.CodeUntrusted, fmt.Errorf("no trusted key with kid %x", m.kid))
	}
	var usable []signing.KeyRef
	for _, r := range cands {
		if r.Issuer.ID == c.Issuer && r.Key.Alg == m.alg && r.Key.ValidAt(c.IssuedAt) {
			usable = append(usable, r)
		}
	}
	if len(usable) == 0 {
		return fail(policy.CodeUntrusted, fmt.Errorf("kid %x: no key of issuer %q for %s valid at %s", m.kid, c.Issuer, m.alg, c.IssuedAt.UTC().Format(time.RFC3339)))
	}
	allowed := usable[:0:0]
	for _, r := range usable {
		if allows(r.Issuer, c.Class) {
			allowed = append(allowed, r)
		}
	}
	if len(allowed) == 0 {
		return fail(policy.CodeClassNotAllowed, fmt.Errorf("issuer %q does not issue class %d", c.Issuer, c.Class))
	}
	tbs := sigStructure(m.protected, m.payload)
	var signer *signing.KeyRef
	for i := range allowed {
		if allowed[i].Key.Verify(tbs, m.signature) == nil {
			signer = &allowed[i]
			break
		}
	}
	if signer == nil {
		return fail(policy.CodeForged, fmt.Errorf("signature does not verify with any of %d keys with kid %x", len(allowed), m.kid))
	}

	res := Result{Claims: &c, Issuer: signer.Issuer.ID}
	res.Code = policy.Code{Class: c.Class, Status: c.Status, IssuedAt: c.IssuedAt}
	now, err := v.o.Clock.Now(ctx)
	if err == nil && now.Before(list.IssuedAt.Add(-DefaultMaxSkew)) {
		err = fmt.Errorf("%w: the clock is before the trust list's issue time", ErrTimeUntrusted)
	}
	if err != nil {
		res.Code.Check, res.Err = policy.CodeTimeUntrusted, err
		return res
	}
	if now.Before(c.IssuedAt.Add(-v.o.Leeway)) {
		res.Code.Check, res.Err = policy.CodeNotYetValid, fmt.Errorf("issued at %s, now %s", c.IssuedAt.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
		return res
	}
	maxValid := v.o.MaxPrintedValidity
	if c.Class == policy.ClassPhone {
		maxValid = v.o.MaxPhoneValidity
	}
	exp := c.Expires
	if lim := c.IssuedAt.Add(maxValid); lim.Before(exp) {
		exp = lim
	}
	if !now.Before(exp) {
		res.Code.Check, res.Err = policy.CodeExpired, fmt.Errorf("valid until %s, now %s", exp.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
		return res
	}
	if v.o.Revoked != nil {
		revoked, err := v.o.Revoked.IsRevoked(ctx, c.CID)
		if err != nil {
			// Unknown revocation state: staff decide rather than the kiosk guessing.
			res.Code.Check, res.Err = policy.CodeNotOffline, fmt.Errorf("revocation check: %w", err)
			return res
		}
		if revoked {
			res.Code.Check, res.Err = policy.CodeRevoked, errors.New("code id revoked")
			return res
		}
	}
	if card != nil {
		ok := v.bound(c, signer.Issuer.Binding, card)
		res.Code.BindMatches = &ok
	}
	res.Code.Check = policy.CodeValid
	return res
}

// bound checks that the code belongs to the card holder: by the binding hash when the code has
// one, else by the last four characters of the number. A code with neither cannot show it belongs
// to this card and does not match.
func (v *Verifier) bound(c Claims, p signing.BindParams, card *Card) bool {
	if c.Bind != nil {
		return subtle.ConstantTimeCompare(Binding(p, card.Type, card.Number, c.CID), c.Bind) == 1
	}
	n := strings.ToUpper(strings.ReplaceAll(card.Number, " ", ""))
	return c.IDLast4 != "" && len(n) >= 4 && strings.EqualFold(n[len(n)-4:], c.IDLast4)
}

// DocumentSource is where the signed trust-list document is held (sync/store.Store implements it).
type DocumentSource interface {
	TrustList(ctx context.Context) (seq int64, doc []byte, err error)
}

// StoredTrust reads the trust list from a DocumentSource, verifying it against the pinned root each
// time the document changes, so a list written by sync or by `onepassctl trust import` takes
// effect at the next code without a restart, and a tampered database is not believed.
type StoredTrust struct {
	src  DocumentSource
	root *signing.PublicKey

	mu   sync.Mutex
	sum  [32]byte
	list *signing.TrustList
	err  error
}

// NewStoredTrust makes a trust source over the store with the pinned root key.
func NewStoredTrust(src DocumentSource, root *signing.PublicKey) *StoredTrust {
	return &StoredTrust{src: src, root: root}
}

// Current implements TrustSource.
func (s *StoredTrust) Current(ctx context.Context) (*signing.TrustList, error) {
	_, doc, err := s.src.TrustList(ctx)
	if err != nil {
		return nil, err
	}
	if doc == nil {
		return nil, nil
	}
	sum := sha256.Sum256(doc)
	s.mu.Lock()
	defer s.mu.Unlock()
	if sum != s.sum || (s.list == nil && s.err == nil) {
		s.sum = sum
		s.list, s.err = OpenDocument(doc, s.root)
	}
	return s.list, s.err
}

// StaticTrust is a fixed trust list (tests, tools).
type StaticTrust struct{ List *signing.TrustList }

// Current implements TrustSource.
func (s StaticTrust) Current(context.Context) (*signing.TrustList, error) { return s.List, nil }
