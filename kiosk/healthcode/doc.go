// Package healthcode judges JKM1 health codes offline (specs/healthcode-jkm1.md): Base45 text, a
// COSE_Sign1 structure with a CBOR payload, a signature by a key of the trust list, validity
// against trusted time, revocation and the card binding. It also issues codes (the hub's tools,
// the simulator, tests).
//
// It is pure: the trust list, revocations and the clock come in as small interfaces, and it
// touches no database. Keys, signatures and the trust-list type are the signing package's, the
// same the sync protocol uses; this package adds only what is particular to codes (COSE
// labels, the code classes an issuer may issue, the Argon2id binding).
package healthcode
