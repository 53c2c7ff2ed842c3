// Package policy is the kiosk's decision: a pure function from what is known about the person in
// front of the lane (identity, cached status, the code's verified claims, temperature) and the
// hall's policy to an outcome with a reason and the texts the screen shows. It touches no database
// and no clock of its own, so every rule is tested by a table.
package policy

import (
	"fmt"
	"time"
)

// Outcome is what the lane does.
type Outcome string

// Outcomes. Undecided is not shown to anyone: it means the decision needs more input
// (an identity or a stable temperature) and the lane keeps waiting.
const (
	Pass      Outcome = "PASS"
	Deny      Outcome = "DENY"
	Manual    Outcome = "MANUAL"
	Retry     Outcome = "RETRY"
	Undecided Outcome = ""
)

// Status is a person's health status colour.
type Status int

// Status values, numbered as in the JKM1 `st` claim.
const (
	StatusUnknown Status = 0
	StatusGreen   Status = 1
	StatusYellow  Status = 2
	StatusRed     Status = 3
)

func (s Status) String() string {
	switch s {
	case StatusGreen:
		return "green"
	case StatusYellow:
		return "yellow"
	case StatusRed:
		return "red"
	}
	return "unknown"
}

// worse reports whether s is a worse colour than t (unknown counts as not worse than anything).
func (s Status) worse(t Status) bool { return s > t }

// CodeClass is the JKM1 `cls` claim.
type CodeClass int

// Code classes.
const (
	ClassPhone   CodeClass = 1
	ClassPrinted CodeClass = 2
	ClassProxy   CodeClass = 3
)

// CodeCheck is the result of verifying a presented code, in the order kiosk/healthcode checks it.
type CodeCheck string

// Code check results.
const (
	CodeValid           CodeCheck = "valid"
	CodeMalformed       CodeCheck = "malformed"
	CodeUntrusted       CodeCheck = "untrusted"
	CodeForged          CodeCheck = "forged"
	CodeExpired         CodeCheck = "expired"
	CodeNotYetValid     CodeCheck = "not_yet_valid"
	CodeRevoked         CodeCheck = "revoked"
	CodeClassNotAllowed CodeCheck = "class_not_allowed"
	CodeTimeUntrusted   CodeCheck = "time_untrusted" // clock skew too large to judge validity
	CodeNotOffline      CodeCheck = "not_offline"    // not JKM1 (a provincial token, a URL)
)

// Code is a presented health code after verification.
type Code struct {
	Check    CodeCheck
	Class    CodeClass
	Status   Status
	IssuedAt time.Time
	// BindMatches is set when a card was on the reader and the code carries a binding:
	// nil = not checked, true/false = the binding hash matched the card or not.
	BindMatches *bool
}

// Card is what the policy needs to know about an identity card.
type Card struct {
	NumberValid bool // check digit and birth date are sane
	Expired     bool
}

// Replica is the cached status of the card holder from the local replica.
type Replica struct {
	Found  bool
	Status Status
	AsOf   time.Time
	// Age is how old the replica is (now − issued_at of the last verified head).
	Age time.Duration
}

// TempState says where the temperature measurement stands.
type TempState int

// Temperature states.
const (
	TempPending    TempState = iota // still measuring
	TempStable                      // a stable reading, in C, rounded to 0.1 °C (StableTemp)
	TempNone                        // no stable reading within the timeout
	TempOutOfRange                  // a stable reading outside the plausible body range: remeasure
	TempDown                        // the thermometer is out of order (past the lane's grace): no reading will come
)

// Temp is the measured temperature.
type Temp struct {
	State TempState
	C     float64
}

// Input is everything known about one pass.
type Input struct {
	Card    *Card // nil: no card shown
	Code    *Code // nil: no code shown
	Replica Replica
	Temp    Temp
	// ReaderDown: the card reader is out of order (past the lane's grace), so a code that needs a
	// card cannot get one here.
	ReaderDown bool
}

// AbsentStatus is what an unknown status means in a region that syncs only exceptions.
type AbsentStatus string

// Absent-status policies.
const (
	AbsentManual AbsentStatus = "manual"
	AbsentGreen  AbsentStatus = "green"
)

// Requirement says whether the hall requires a check ([policy] temperature, [policy] status).
type Requirement string

// Requirements. The zero value means Required: a policy that says nothing checks everything.
const (
	Required Requirement = "required"
	Off      Requirement = "off" // the lane neither waits for nor decides on the check
)

// Policy holds the hall's rules.
type Policy struct {
	FeverC       float64       // a stable temperature at or above this is a fever
	StatusMaxAge time.Duration // an older replica is stale: unknown status becomes MANUAL
	AbsentStatus AbsentStatus  // unknown status with a fresh replica
	// Temperature "off": no temperature is waited for or judged (halls after the health-code era
	// that use the kiosk for real-name registration and queue tickets).
	Temperature Requirement
	// Status "off": no health status is looked up or judged; a valid identity passes.
	Status Requirement
}

// TemperatureOff reports whether the hall does not check temperatures.
func (p Policy) TemperatureOff() bool { return p.Temperature == Off }

// StatusOff reports whether the hall does not check health status.
func (p Policy) StatusOff() bool { return p.Status == Off }

// Default is the policy a kiosk uses until the platform sends one.
func Default() Policy {
	return Policy{FeverC: 37.3, StatusMaxAge: 30 * time.Minute, AbsentStatus: AbsentManual}
}

// Validate checks a policy for values that make no sense.
func (p Policy) Validate() error {
	if p.FeverC < 35 || p.FeverC > 42 {
		return fmt.Errorf("fever_c %.1f outside 35–42 °C", p.FeverC)
	}
	if p.StatusMaxAge <= 0 {
		return fmt.Errorf("status_max_age must be positive")
	}
	if p.AbsentStatus != AbsentManual && p.AbsentStatus != AbsentGreen {
		return fmt.Errorf("absent_status %q: want %q or %q", p.AbsentStatus, AbsentManual, AbsentGreen)
	}
	for _, r := range []struct {
		key string
		v   Requirement
	}{{"temperature", p.Temperature}, {"status", p.Status}} {
		if r.v != "" && r.v != Required && r.v != Off {
			return fmt.Errorf("%s %q: want %q or %q", r.key, r.v, Required, Off)
		}
	}
	return nil
}

// Decision is the outcome with its reason.
type Decision struct {
	Outcome Outcome
	Reason  Reason
}

// Decide is the decision table of specs/healthcode-jkm1.md ("Decision inputs"). Rules that need
// no temperature are applied first so a forged code or a bad card is answered at once; a fever
// denies whoever it is; the status decides the rest. A check the policy turns off is skipped.
func Decide(p Policy, in Input) Decision {
	if d, ok := decideIdentity(in); ok {
		return d
	}
	identified := in.Card != nil || in.Code != nil
	if !p.TemperatureOff() {
		switch in.Temp.State {
		case TempPending:
			return Decision{Undecided, ""}
		case TempNone:
			return Decision{Retry, ReasonNoTemperature}
		case TempOutOfRange:
			return Decision{Retry, ReasonRemeasure}
		case TempDown:
			if !identified {
				return Decision{Undecided, ""}
			}
			// Asking to face a broken sensor would keep the person at the lane for ever.
			return Decision{Manual, ReasonThermometerDown}
		}
		if RoundC(in.Temp.C) >= p.FeverC { // callers round already (StableTemp); rounding twice changes nothing
			return Decision{Deny, ReasonFever}
		}
	}
	if !identified {
		return Decision{Undecided, ""} // a normal temperature alone identifies nobody
	}
	if p.StatusOff() {
		return Decision{Pass, ReasonOK}
	}
	return decideStatus(p, in)
}

// decideIdentity applies the rules about the card and the code themselves.
func decideIdentity(in Input) (Decision, bool) {
	if c := in.Card; c != nil {
		if !c.NumberValid {
			return Decision{Deny, ReasonIDInvalid}, true
		}
		if c.Expired {
			return Decision{Deny, ReasonCardExpired}, true
		}
	}
	code := in.Code
	if code == nil {
		return Decision{}, false
	}
	switch code.Check {
	case CodeValid:
	case CodeNotOffline:
		return Decision{Manual, ReasonCodeNotOffline}, true
	case CodeTimeUntrusted:
		return Decision{Manual, ReasonTimeUntrusted}, true
	default:
		return Decision{Deny, codeReasons[code.Check]}, true
	}
	if code.BindMatches != nil && !*code.BindMatches {
		return Decision{Deny, ReasonCodeWrongPerson}, true
	}
	if NeedsCard(*code) && in.Card == nil {
		if in.ReaderDown {
			return Decision{Manual, ReasonReaderDown}, true
		}
		return Decision{Manual, ReasonCodeNeedsCard}, true
	}
	return Decision{}, false
}

// NeedsCard reports whether a valid code is only accepted together with the holder's ID card
// (printed and proxy codes: they prove no identity alone).
func NeedsCard(c Code) bool {
	return c.Check == CodeValid && (c.Class == ClassPrinted || c.Class == ClassProxy) &&
		(c.BindMatches == nil || *c.BindMatches)
}

var codeReasons = map[CodeCheck]Reason{
	CodeMalformed:       ReasonCodeMalformed,
	CodeUntrusted:       ReasonCodeUntrusted,
	CodeForged:          ReasonCodeForged,
	CodeExpired:         ReasonCodeExpired,
	CodeNotYetValid:     ReasonCodeNotYetValid,
	CodeRevoked:         ReasonCodeRevoked,
	CodeClassNotAllowed: ReasonCodeClassNotAllowed,
}

// decideStatus picks the status source (replica row, code claim, or both) and judges the colour.
func decideStatus(p Policy, in Input) Decision {
	st := StatusUnknown
	known := false
	if in.Card != nil && in.Replica.Found {
		st, known = in.Replica.Status, true
	}
	if c := in.Code; c != nil {
		switch {
		case !known:
			st, known = c.Status, true
		case c.IssuedAt.After(in.Replica.AsOf):
			st = c.Status
		case c.IssuedAt.Equal(in.Replica.AsOf) && c.Status.worse(st):
			st = c.Status
		}
	}
	switch st {
	case StatusGreen:
		return Decision{Pass, ReasonOK}
	case StatusYellow:
		return Decision{Deny, ReasonStatusYellow}
	case StatusRed:
		return Decision{Deny, ReasonStatusRed}
	}
	// Unknown: no row for the card holder (or a code that says 0).
	if in.Replica.Age > p.StatusMaxAge {
		return Decision{Manual, ReasonStatusStale}
	}
	if p.AbsentStatus == AbsentGreen {
		return Decision{Pass, ReasonOK}
	}
	return Decision{Manual, ReasonStatusUnknown}
}
