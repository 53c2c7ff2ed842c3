package kiosk

import (
	"context"

	"onepass/kiosk/policy"
	"onepass/sync/store"
)

// Method is how a visit identified the person; it is written to the visit log as is.
type Method string

// Methods of a visit. The lane joins card and code when both were shown.
const (
	MethodCard     Method = "card"
	MethodCode     Method = "code"
	MethodCardCode Method = "card+code"
	MethodTemp     Method = "temp"   // a fever with no identity
	MethodManual   Method = "manual" // a staff console's check (CheckManual)
	MethodStaff    Method = "staff"  // a staff member's decision on a MANUAL visit (Override)
)

// RecentVisits is the visit log read newest first, with lookups by ID (sync/store.Store).
type RecentVisits interface {
	Recent(ctx context.Context, n int) ([]store.Visit, error)
	VisitFinder
}

// CheckInPass is the visit an appointment code shown at this lane counts as its pass, "" when
// there is none. Only the pass on this lane's screen counts, or, once the result screen has gone
// while the service picker is still up, the newest visit in the log when it is a pass decided at
// this lane: the newest visit may be another lane's, a staff console's manual check, or the
// previous citizen's refusal. A staff member's PASS counts as the pass of the visit it overrides:
// for this lane's own MANUAL visit, not for a manual check at the desk.
func CheckInPass(ctx context.Context, v View, log RecentVisits) string {
	if v.State == PhaseShowing && v.Outcome == policy.Pass {
		return v.PassID
	}
	if log == nil {
		return ""
	}
	vs, err := log.Recent(ctx, 1)
	if err != nil || len(vs) != 1 {
		return ""
	}
	n := vs[0]
	if policy.Outcome(n.Outcome) != policy.Pass || n.Lane != v.Lane || Method(n.Method) == MethodManual {
		return ""
	}
	if Method(n.Method) == MethodStaff {
		o, ok, err := log.VisitByID(ctx, n.Overrides)
		if err != nil || !ok || o.Lane != v.Lane || Method(o.Method) == MethodManual {
			return ""
		}
	}
	return n.ID
}
