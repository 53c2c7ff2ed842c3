package healthcode

import "onepass/signing"

// COSE algorithm labels: ES256 and EdDSA are registered; SM2-with-SM3 (OID 1.2.156.10197.1.501)
// has no registered label, so JKM1 uses the private-use label -48.
var coseAlg = map[signing.Alg]int64{signing.ES256: -7, signing.EdDSA: -8, signing.SM2SM3: -48}

func algFromCOSE(v int64) (signing.Alg, bool) {
	for a, l := range coseAlg {
		if l == v {
			return a, true
		}
	}
	return "", false
}
