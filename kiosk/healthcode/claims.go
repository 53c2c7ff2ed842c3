package healthcode

import (
	"fmt"
	"math"
	"time"
	"unicode/utf8"

	"github.com/fxamacker/cbor/v2"

	"onepass/identity"
	"onepass/kiosk/policy"
)

// Payload keys (specs/healthcode-jkm1.md, "Code format").
const (
	keyVersion  = 1
	keyIssuer   = 2
	keyCID      = 3
	keyStatus   = 4
	keyClass    = 5
	keyIssuedAt = 6
	keyExpires  = 7
	keyBind     = 8
	keyName     = 9
	keyIDLast4  = 10
	keyCertType = 11
)

// CIDSize and BindSize are the lengths of the code ID and the binding hash.
const (
	CIDSize  = 16
	BindSize = 16
)

// Claims are the payload of a JKM1 code.
type Claims struct {
	Issuer     string
	CID        []byte
	Status     policy.Status
	Class      policy.CodeClass
	IssuedAt   time.Time
	Expires    time.Time
	Bind       []byte            // nil when the code carries no card binding
	MaskedName string            // display only
	IDLast4    string            // last 4 characters of the certificate number, display only
	CertType   identity.CertType // 0 when absent
}

// parseClaims reads the payload map: integer keys, unknown keys ignored, every known key with its
// type and range checked.
func parseClaims(payload []byte) (Claims, error) {
	var c Claims
	var m map[int64]cbor.RawMessage
	if err := decMode.Unmarshal(payload, &m); err != nil {
		return c, malformed("payload: %v", err)
	}
	get := func(key int64, v any, name string) (bool, error) {
		raw, ok := m[key]
		if !ok {
			return false, nil
		}
		if err := decMode.Unmarshal(raw, v); err != nil {
			return true, malformed("%s: %v", name, err)
		}
		return true, nil
	}
	need := func(key int64, v any, name string) error {
		ok, err := get(key, v, name)
		if err == nil && !ok {
			err = malformed("no %s", name)
		}
		return err
	}
	var version, status, class, ct uint64
	var iat, exp int64
	if err := need(keyVersion, &version, "v"); err != nil {
		return c, err
	}
	if version != 1 {
		return c, malformed("version %d, this kiosk reads 1", version)
	}
	if err := need(keyIssuer, &c.Issuer, "iss"); err != nil {
		return c, err
	}
	if c.Issuer == "" || utf8.RuneCountInString(c.Issuer) > maxTextItem {
		return c, malformed("iss of %d characters", utf8.RuneCountInString(c.Issuer))
	}
	if err := need(keyCID, &c.CID, "cid"); err != nil {
		return c, err
	}
	if len(c.CID) != CIDSize {
		return c, malformed("cid of %d bytes, want %d", len(c.CID), CIDSize)
	}
	if err := need(keyStatus, &status, "st"); err != nil {
		return c, err
	}
	// Values above red are reserved for colours this kiosk does not know: it cannot judge them.
	if status > uint64(policy.StatusRed) {
		return c, malformed("st %d is a reserved colour", status)
	}
	c.Status = policy.Status(status)
	if err := need(keyClass, &class, "cls"); err != nil {
		return c, err
	}
	if class < uint64(policy.ClassPhone) || class > uint64(policy.ClassProxy) {
		return c, malformed("cls %d", class)
	}
	c.Class = policy.CodeClass(class)
	if err := need(keyIssuedAt, &iat, "iat"); err != nil {
		return c, err
	}
	if err := need(keyExpires, &exp, "exp"); err != nil {
		return c, err
	}
	if iat <= 0 || exp <= iat || exp > math.MaxInt32*4 {
		return c, malformed("iat %d, exp %d", iat, exp)
	}
	c.IssuedAt, c.Expires = time.Unix(iat, 0), time.Unix(exp, 0)
	if ok, err := get(keyBind, &c.Bind, "bind"); err != nil {
		return c, err
	} else if ok && len(c.Bind) != BindSize {
		return c, malformed("bind of %d bytes, want %d", len(c.Bind), BindSize)
	}
	if c.Class != policy.ClassPhone && c.Bind == nil {
		return c, malformed("a printed or proxy code without a card binding")
	}
	if _, err := get(keyName, &c.MaskedName, "nm"); err != nil {
		return c, err
	}
	if utf8.RuneCountInString(c.MaskedName) > maxTextItem {
		return c, malformed("nm too long")
	}
	if _, err := get(keyIDLast4, &c.IDLast4, "idl"); err != nil {
		return c, err
	}
	if len(c.IDLast4) > 8 {
		return c, malformed("idl too long")
	}
	if _, err := get(keyCertType, &ct, "ct"); err != nil {
		return c, err
	}
	if ct > 999 {
		return c, malformed("ct %d", ct)
	}
	c.CertType = identity.CertType(ct)
	return c, nil
}

// payloadMap is the CBOR map an issuer writes.
func (c Claims) payloadMap() map[int64]any {
	m := map[int64]any{
		keyVersion: 1, keyIssuer: c.Issuer, keyCID: c.CID, keyStatus: uint64(c.Status),
		keyClass: uint64(c.Class), keyIssuedAt: c.IssuedAt.Unix(), keyExpires: c.Expires.Unix(),
	}
	if c.Bind != nil {
		m[keyBind] = c.Bind
	}
	if c.MaskedName != "" {
		m[keyName] = c.MaskedName
	}
	if c.IDLast4 != "" {
		m[keyIDLast4] = c.IDLast4
	}
	if c.CertType != 0 {
		m[keyCertType] = uint64(c.CertType)
	}
	return m
}

// String keeps claims out of logs beyond what identifies the code.
func (c Claims) String() string {
	return fmt.Sprintf("jkm1(iss=%s cid=%x cls=%d)", c.Issuer, c.CID[:min(4, len(c.CID))], c.Class)
}
