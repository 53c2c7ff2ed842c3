package wire

import (
	"fmt"
	"slices"
	"unicode/utf8"
)

// What a visit record may hold. The kiosk's store checks a visit with CheckVisit before it queues
// it and the hub checks it again on ingest: one rule, so the kiosk never queues a record the hub
// refuses for good (which would sit in quarantine and keep the kiosk's sync degraded).
var (
	VisitMethods  = []string{"card", "code", "card+code", "temp", "manual"} // manual: staff-console ID entry
	VisitOutcomes = []string{"PASS", "DENY", "MANUAL", "RETRY"}
)

// Limits of a visit record's fields.
const (
	MaxLaneLen       = 32  // bytes
	MaxVisitReason   = 64  // bytes
	MaxMaskedNameLen = 64  // characters
	MaxSealedIDLen   = 512 // bytes
	// temp_c, when present, is a body temperature in [MinTempC, MaxTempC]. An implausible
	// reading (a hot cup at 99.9 °C) is no body temperature: the kiosk sends the visit without
	// temp_c, with outcome RETRY and reason "remeasure".
	MinTempC = 0
	MaxTempC = 60
)

// VisitError says why a visit can never be accepted; Reason is the hub's rejection reason.
type VisitError struct{ Reason string }

func (e *VisitError) Error() string { return "invalid visit: " + e.Reason }

// CheckVisit says why a visit body can never be accepted (a *VisitError), or nil when it is well
// formed.
func CheckVisit(v Visit) error {
	why := ""
	switch {
	case v.Lane == "" || len(v.Lane) > MaxLaneLen:
		why = "lane must be 1–32 characters"
	case !slices.Contains(VisitMethods, v.Method):
		why = fmt.Sprintf("method %q unknown", v.Method)
	case !slices.Contains(VisitOutcomes, v.Outcome):
		why = fmt.Sprintf("outcome %q unknown", v.Outcome)
	case len(v.Reason) > MaxVisitReason:
		why = "reason longer than 64 bytes"
	case utf8.RuneCountInString(v.MaskedName) > MaxMaskedNameLen:
		why = "masked name longer than 64 characters"
	case v.PersonKey != nil && len(v.PersonKey) != PersonKeySize:
		why = fmt.Sprintf("person key of %d bytes, want %d", len(v.PersonKey), PersonKeySize)
	case len(v.SealedID) > MaxSealedIDLen:
		why = "sealed id longer than 512 bytes"
	case v.TempC != nil && !(*v.TempC >= MinTempC && *v.TempC <= MaxTempC): // NaN too
		why = fmt.Sprintf("temperature %.1f °C impossible", *v.TempC)
	default:
		return nil
	}
	return &VisitError{Reason: why}
}
