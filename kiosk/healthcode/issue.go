package healthcode

import (
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/fxamacker/cbor/v2"

	"onepass/identity"
	"onepass/kiosk/policy"
	"onepass/signing"
)

// Signer makes JKM1 codes for one issuer: `onepass-hub code issue`, the simulator and tests.
type Signer struct {
	Issuer  string
	Key     *signing.PrivateKey
	Binding signing.BindParams // must equal the issuer's entry in the trust list
}

// CodeRequest describes a code to issue for a person.
type CodeRequest struct {
	Status   policy.Status
	Class    policy.CodeClass
	CertType identity.CertType // default resident card (10)
	Number   string            // certificate number; never stored in the code
	Name     string            // full name; the code carries it masked
	IssuedAt time.Time         // default now
	Validity time.Duration     // default 5 min for phone codes, 7 days otherwise
}

// Issue makes a code for a person: the binding hash instead of the number, the masked name and
// the last four characters for display.
func (s *Signer) Issue(r CodeRequest) (string, Claims, error) {
	if r.CertType == 0 {
		r.CertType = identity.CertResident
	}
	if r.IssuedAt.IsZero() {
		r.IssuedAt = time.Now()
	}
	if r.Validity == 0 {
		r.Validity = 7 * 24 * time.Hour
		if r.Class == policy.ClassPhone {
			r.Validity = 5 * time.Minute
		}
	}
	number := strings.ToUpper(strings.ReplaceAll(r.Number, " ", ""))
	if len(number) < 4 {
		return "", Claims{}, errors.New("issue: a certificate number is needed for the binding")
	}
	cid := make([]byte, CIDSize)
	rand.Read(cid)
	c := Claims{
		Issuer: s.Issuer, CID: cid, Status: r.Status, Class: r.Class,
		IssuedAt: r.IssuedAt.Truncate(time.Second), Expires: r.IssuedAt.Truncate(time.Second).Add(r.Validity),
		Bind:       Binding(s.Binding, r.CertType, number, cid),
		MaskedName: identity.MaskName(r.Name), IDLast4: number[len(number)-4:], CertType: r.CertType,
	}
	text, err := s.Sign(c)
	return text, c, err
}

// Sign encodes and signs claims as they are (tests use it for unusual claims).
func (s *Signer) Sign(c Claims) (string, error) {
	payload, err := encMode.Marshal(c.payloadMap())
	if err != nil {
		return "", fmt.Errorf("issue: payload: %w", err)
	}
	raw, err := SignPayload(s.Key, payload)
	if err != nil {
		return "", err
	}
	return Prefix + Base45Encode(raw), nil
}

// SignPayload makes the tagged COSE_Sign1 bytes over a payload.
func SignPayload(key *signing.PrivateKey, payload []byte) ([]byte, error) {
	prot, err := encMode.Marshal(map[int64]any{hdrAlg: coseAlg[key.Public().Alg()], hdrKid: key.Public().KID()})
	if err != nil {
		return nil, fmt.Errorf("issue: header: %w", err)
	}
	sig, err := key.Sign(sigStructure(prot, payload))
	if err != nil {
		return nil, fmt.Errorf("issue: sign: %w", err)
	}
	raw, err := encMode.Marshal(cbor.Tag{Number: 18, Content: []any{prot, map[int64]any{}, payload, sig}})
	if err != nil {
		return nil, fmt.Errorf("issue: COSE: %w", err)
	}
	return raw, nil
}
