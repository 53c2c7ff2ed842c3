package healthcode

import (
	"golang.org/x/crypto/argon2"

	"onepass/identity"
	"onepass/signing"
)

// Binding computes a code's card binding: Argon2id over "<ct>|<NUMBER>" (identity.Canonical),
// salted with the code ID, with the issuer's parameters, 16 bytes. It is slow on purpose: ID numbers
// have so little entropy that a fast hash printed in a public QR code could be reversed.
func Binding(p signing.BindParams, ct identity.CertType, number string, cid []byte) []byte {
	return argon2.IDKey([]byte(identity.Canonical(ct, number)), cid, p.Time, p.MemoryKiB, p.Threads, BindSize)
}
