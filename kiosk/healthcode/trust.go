package healthcode

import (
	"fmt"
	"slices"

	"onepass/kiosk/policy"
	"onepass/signing"
)

// OpenDocument checks a trust-list document against the pinned root key (signing.OpenTrustList)
// and the JKM1 rule the signing package does not know: every issuer's classes are code classes.
// It does not judge rollback: compare Seq with the held list (CheckNewer). Errors wrap
// signing.ErrTrustList.
func OpenDocument(doc []byte, root *signing.PublicKey) (*signing.TrustList, error) {
	l, err := signing.OpenTrustList(doc, root)
	if err != nil {
		return nil, err
	}
	for _, is := range l.Issuers {
		for _, c := range is.Classes {
			if c < int(policy.ClassPhone) || c > int(policy.ClassProxy) {
				return nil, fmt.Errorf("%w: issuer %s: class %d", signing.ErrTrustList, is.ID, c)
			}
		}
	}
	return l, nil
}

// allows reports whether the issuer may issue codes of class c.
func allows(is *signing.Issuer, c policy.CodeClass) bool { return slices.Contains(is.Classes, int(c)) }
