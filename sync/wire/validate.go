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
	// manual: staff-console ID entry; staff: a staff decision on a MANUAL visit (see checkOverride)
	VisitMethods  = []string{"card", "code", "card+code", "temp", "manual", "staff"}
	VisitOutcomes = []string{"PASS", "DENY", "MANUAL", "RETRY"}
)

// Limits of a visit record's fields.
const (
	MaxLaneLen       = 32  // bytes
	MaxVisitReason   = 64  // bytes
	MaxMaskedNameLen = 64  // characters
	MaxSealedIDLen   = 512 // bytes
	MaxStaffIDLen    = 32  // bytes
	MaxNoteLen       = 64  // bytes
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
		why = checkOverride(v)
	}
	if why == "" {
		return nil
	}
	return &VisitError{Reason: why}
}

// checkOverride checks the fields of a staff decision: method "staff" carries who decided and
// the visit it overrides, and is a PASS or a DENY; other methods carry none of them.
func checkOverride(v Visit) string {
	switch {
	case len(v.StaffID) > MaxStaffIDLen:
		return "staff id longer than 32 bytes"
	case len(v.Note) > MaxNoteLen:
		return "note longer than 64 bytes"
	case v.Method != "staff":
		if v.StaffID != "" || v.Overrides != "" || v.Note != "" {
			return fmt.Sprintf("method %q with staff-decision fields", v.Method)
		}
		return ""
	case v.StaffID == "":
		return "staff decision without staff_id"
	case v.Outcome != "PASS" && v.Outcome != "DENY":
		return fmt.Sprintf("staff decision with outcome %q, want PASS or DENY", v.Outcome)
	case !isUUID(v.Overrides):
		return "overrides is not a UUID"
	}
	return ""
}

// isUUID: the 8-4-4-4-12 hexadecimal form record IDs have (wire stays free of a UUID library).
func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i, c := range s {
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
				return false
			}
		}
	}
	return true
}
