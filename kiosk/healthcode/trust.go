package healthcode

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"onepass/kiosk/policy"
)

// ErrRollback is returned for a trust list older (lower seq) than the one held.
var ErrRollback = errors.New("trust list rollback")

// ErrTrustList is wrapped by every error about a trust-list document.
var ErrTrustList = errors.New("trust list")

// maxTrustDoc bounds the document read from sync or a file.
const maxTrustDoc = 4 << 20

// Document is the signed trust-list document (specs/healthcode-jkm1.md, "Trust-list document"):
// what the sync trust stream delivers, what `onepassctl trust import` reads and what the store holds.
type Document struct {
	Payload   []byte `json:"payload"` // the UTF-8 JSON trust list (base64 in the document)
	Alg       Alg    `json:"alg"`
	Kid       []byte `json:"kid"`
	Signature []byte `json:"signature"`
}

// BindParams are an issuer's Argon2id parameters for the card binding.
type BindParams struct {
	Time      uint32 `json:"time"`
	MemoryKiB uint32 `json:"memory_kib"`
	Threads   uint8  `json:"threads"`
}

// DefaultBind is the spec's default: t=1, m=8 MiB, p=1.
var DefaultBind = BindParams{Time: 1, MemoryKiB: 8192, Threads: 1}

func (p BindParams) validate() error {
	// Bounds keep a mistaken list from making every verification take seconds or gigabytes.
	if p.Time < 1 || p.Time > 16 || p.MemoryKiB < 1024 || p.MemoryKiB > 256*1024 || p.Threads < 1 || p.Threads > 8 {
		return fmt.Errorf("binding parameters t=%d m=%d KiB p=%d outside t 1–16, m 1–256 MiB, p 1–8", p.Time, p.MemoryKiB, p.Threads)
	}
	return nil
}

// IssuerKey is one of an issuer's signing keys.
type IssuerKey struct {
	Kid       []byte    `json:"kid"`
	Alg       Alg       `json:"alg"`
	PublicKey []byte    `json:"public_key"` // SPKI DER
	NotBefore time.Time `json:"not_before"`
	NotAfter  time.Time `json:"not_after"`

	key *PublicKey
}

// Issuer is a trusted code issuer.
type Issuer struct {
	ID      string             `json:"id"`
	Name    string             `json:"name"`
	Region  string             `json:"region"`
	Classes []policy.CodeClass `json:"classes"`
	Binding BindParams         `json:"binding"`
	Keys    []IssuerKey        `json:"keys"`
}

// TrustList is the verified list of code issuers.
type TrustList struct {
	Version  int       `json:"version"`
	Seq      int64     `json:"seq"`
	IssuedAt time.Time `json:"issued_at"`
	Issuers  []Issuer  `json:"issuers"`

	byKid map[[KidSize]byte][]keyRef
}

type keyRef struct {
	issuer *Issuer
	key    *IssuerKey
}

// OpenDocument checks a trust-list document against the pinned root key and returns the list. It
// does not judge rollback: compare Seq with the held list (CheckNewer).
func OpenDocument(doc []byte, root *PublicKey) (*TrustList, error) {
	if len(doc) > maxTrustDoc {
		return nil, fmt.Errorf("%w: document of %d bytes, over %d", ErrTrustList, len(doc), maxTrustDoc)
	}
	var d Document
	// Unknown envelope fields are ignored (sync's envelope may carry more); the signature covers
	// the payload, which is what counts.
	dec := json.NewDecoder(bytes.NewReader(doc))
	if err := dec.Decode(&d); err != nil {
		return nil, fmt.Errorf("%w: document: %v", ErrTrustList, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: document: data after the JSON object", ErrTrustList)
	}
	if root == nil {
		return nil, fmt.Errorf("%w: no root key is configured ([trust] root)", ErrTrustList)
	}
	if d.Alg != root.Alg() {
		return nil, fmt.Errorf("%w: signed with %q, the root key is %s", ErrTrustList, d.Alg, root.Alg())
	}
	if !bytes.Equal(d.Kid, root.Kid()) {
		return nil, fmt.Errorf("%w: signed by key %x, not by the pinned root %x", ErrTrustList, d.Kid, root.Kid())
	}
	if !root.Verify(d.Payload, d.Signature) {
		return nil, fmt.Errorf("%w: the root signature does not verify", ErrTrustList)
	}
	return parseTrustList(d.Payload)
}

func parseTrustList(payload []byte) (*TrustList, error) {
	var l TrustList
	// Unknown fields are allowed here: the list is signed, and a newer root may add fields.
	if err := json.Unmarshal(payload, &l); err != nil {
		return nil, fmt.Errorf("%w: payload: %v", ErrTrustList, err)
	}
	if l.Version != 1 {
		return nil, fmt.Errorf("%w: version %d, this kiosk reads 1", ErrTrustList, l.Version)
	}
	if l.Seq <= 0 {
		return nil, fmt.Errorf("%w: seq %d", ErrTrustList, l.Seq)
	}
	if l.IssuedAt.IsZero() {
		return nil, fmt.Errorf("%w: no issued_at", ErrTrustList)
	}
	l.byKid = map[[KidSize]byte][]keyRef{}
	ids := map[string]bool{}
	for i := range l.Issuers {
		is := &l.Issuers[i]
		if is.ID == "" || ids[is.ID] {
			return nil, fmt.Errorf("%w: issuer %d: empty or repeated id %q", ErrTrustList, i, is.ID)
		}
		ids[is.ID] = true
		if err := is.Binding.validate(); err != nil {
			return nil, fmt.Errorf("%w: issuer %s: %v", ErrTrustList, is.ID, err)
		}
		for _, c := range is.Classes {
			if c < policy.ClassPhone || c > policy.ClassProxy {
				return nil, fmt.Errorf("%w: issuer %s: class %d", ErrTrustList, is.ID, c)
			}
		}
		for j := range is.Keys {
			k := &is.Keys[j]
			pub, err := ParsePublicKey(k.PublicKey)
			if err != nil {
				return nil, fmt.Errorf("%w: issuer %s key %d: %v", ErrTrustList, is.ID, j, err)
			}
			if pub.Alg() != k.Alg {
				return nil, fmt.Errorf("%w: issuer %s key %d: alg %q but the key is %s", ErrTrustList, is.ID, j, k.Alg, pub.Alg())
			}
			if !bytes.Equal(k.Kid, pub.Kid()) {
				return nil, fmt.Errorf("%w: issuer %s key %d: kid %x is not SHA-256(SPKI)[:8] = %x", ErrTrustList, is.ID, j, k.Kid, pub.Kid())
			}
			if !k.NotAfter.After(k.NotBefore) {
				return nil, fmt.Errorf("%w: issuer %s key %d: not_after is not after not_before", ErrTrustList, is.ID, j)
			}
			k.key = pub
			kid := [KidSize]byte(k.Kid)
			l.byKid[kid] = append(l.byKid[kid], keyRef{issuer: is, key: k})
		}
	}
	return &l, nil
}

// CheckNewer refuses a list older than the held one (seq held; 0 when none is held).
func (l *TrustList) CheckNewer(held int64) error {
	if l.Seq < held {
		return fmt.Errorf("%w: held seq %d, offered %d", ErrRollback, held, l.Seq)
	}
	return nil
}

// keys returns every key with this kid: kids are short, so different issuers' keys may collide
// and every one must be tried (the DCC rule).
func (l *TrustList) keys(kid []byte) []keyRef {
	if len(kid) != KidSize {
		return nil
	}
	return l.byKid[[KidSize]byte(kid)]
}

// Issuer returns the issuer with this id.
func (l *TrustList) Issuer(id string) (*Issuer, bool) {
	for i := range l.Issuers {
		if l.Issuers[i].ID == id {
			return &l.Issuers[i], true
		}
	}
	return nil, false
}

func (is *Issuer) allows(c policy.CodeClass) bool { return slices.Contains(is.Classes, c) }

// validAt reports whether a key may sign a code issued at t: t in [not_before, not_after).
func (k *IssuerKey) validAt(t time.Time) bool { return !t.Before(k.NotBefore) && t.Before(k.NotAfter) }

// SignDocument signs a trust list with the root key and returns the document (issuers, the hub, tests).
func SignDocument(l *TrustList, root *PrivateKey) ([]byte, error) {
	payload, err := json.Marshal(l)
	if err != nil {
		return nil, fmt.Errorf("trust list: %w", err)
	}
	sig, err := root.Sign(payload)
	if err != nil {
		return nil, fmt.Errorf("trust list: sign: %w", err)
	}
	return json.Marshal(Document{Payload: payload, Alg: root.Public().Alg(), Kid: root.Public().Kid(), Signature: sig})
}

// NewIssuerKey describes a public key for a trust-list entry.
func NewIssuerKey(pub *PublicKey, notBefore, notAfter time.Time) IssuerKey {
	return IssuerKey{Kid: pub.Kid(), Alg: pub.Alg(), PublicKey: pub.SPKI(), NotBefore: notBefore, NotAfter: notAfter}
}

// RootFromBase64 reads the pinned root key as configured: base64 of the SPKI DER.
func RootFromBase64(s string) (*PublicKey, error) {
	der, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("root key: not base64: %w", err)
	}
	return ParsePublicKey(der)
}
