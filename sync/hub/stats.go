package hub

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"time"

	"onepass/sync/wire"
)

// What the operators' dashboard shows of a hall's day and of the audit trail: counts, masked
// names and who decided, never a person key or a sealed ID (neither is even read here).

// Halls lists the halls that have enrolled devices.
func (h *Hub) Halls(ctx context.Context) ([]string, error) {
	rows, err := h.r.QueryContext(ctx, `SELECT DISTINCT hall FROM devices ORDER BY hall`)
	if err != nil {
		return nil, fmt.Errorf("hub: halls: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, fmt.Errorf("hub: halls: %w", err)
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// HallDay is one hall's day as the dashboard shows it.
type HallDay struct {
	Hall     string
	From, To time.Time
	// Hourly counts the visits (passes at a lane or desk, not staff decisions) by the hour of
	// From's time zone they were made in.
	Hourly   [24]int
	Visits   int            // all visits but staff decisions
	Outcomes map[string]int // PASS, DENY, MANUAL, RETRY among Visits
	Fever    int            // visits denied for fever
	Manual   int            // manual ID entries at the staff console
	// Overrides counts staff decisions on MANUAL visits, by the outcome decided (PASS, DENY).
	Overrides map[string]int
	Issued    int // tickets issued
	Services  []ServiceDay
}

// ServiceDay is one queue service's day: tickets issued, tickets called, and the wait from
// issue to (first) call of the tickets called.
type ServiceDay struct {
	Service string
	Issued  int
	Called  int
	AvgWait time.Duration
	P90Wait time.Duration
}

// ticketBody is what the dashboard reads of a ticket event (docs/sync-protocol.md "Upload").
type ticketBody struct {
	TicketID string `json:"ticket_id"`
	Event    string `json:"event"`
	Service  string `json:"service"`
	WaitedMS int64  `json:"waited_ms"`
}

// maxDayRange bounds a HallDay or Audit query: a day (25 hours on a daylight-saving day).
const maxDayRange = 25 * time.Hour

// HallDay counts a hall's visits and tickets made in [from, to) (at most a day), on the kiosks'
// clocks (each record's own time).
func (h *Hub) HallDay(ctx context.Context, hall string, from, to time.Time) (HallDay, error) {
	d := HallDay{Hall: hall, From: from, To: to, Outcomes: map[string]int{}, Overrides: map[string]int{}}
	if !to.After(from) || to.Sub(from) > maxDayRange {
		return d, fmt.Errorf("hub: hall day: range %s–%s: want up to a day", from, to)
	}
	loc := from.Location()
	type pending struct {
		service  string
		issuedAt int64
	}
	issued := map[string]pending{} // device|ticket → when issued
	called := map[string]bool{}
	waits := map[string][]time.Duration{}
	svc := map[string]*ServiceDay{}
	service := func(name string) *ServiceDay {
		s := svc[name]
		if s == nil {
			s = &ServiceDay{Service: name}
			svc[name] = s
		}
		return s
	}
	err := h.readTx(ctx, func(tx *dbTx) error {
		rows, err := tx.QueryContext(ctx, `SELECT v.at, v.method, v.outcome, v.reason FROM visits v JOIN devices d ON d.id = v.device
			WHERE d.hall = ? AND v.at >= ? AND v.at < ?`, hall, wire.UnixMS(from), wire.UnixMS(to))
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var at int64
			var method, outcome, reason string
			if err := rows.Scan(&at, &method, &outcome, &reason); err != nil {
				return err
			}
			if method == "staff" {
				d.Overrides[outcome]++
				continue
			}
			d.Visits++
			d.Hourly[wire.FromUnixMS(at).In(loc).Hour()]++
			d.Outcomes[outcome]++
			if reason == "fever" {
				d.Fever++
			}
			if method == "manual" {
				d.Manual++
			}
		}
		if err := rows.Err(); err != nil {
			return err
		}
		rows.Close()
		trows, err := tx.QueryContext(ctx, `SELECT r.device, r.at, r.body FROM records r JOIN devices d ON d.id = r.device
			WHERE r.kind = 'ticket' AND d.hall = ? AND r.at >= ? AND r.at < ? ORDER BY r.at`, hall, wire.UnixMS(from), wire.UnixMS(to))
		if err != nil {
			return err
		}
		defer trows.Close()
		for trows.Next() {
			var device string
			var at int64
			var body []byte
			if err := trows.Scan(&device, &at, &body); err != nil {
				return err
			}
			var b ticketBody
			if json.Unmarshal(body, &b) != nil || b.Service == "" {
				continue // not a ticket event this build reads
			}
			key := device + "|" + b.TicketID
			switch b.Event {
			case "issued":
				d.Issued++
				service(b.Service).Issued++
				issued[key] = pending{b.Service, at}
			case "called":
				if called[key] {
					continue // a second "called" is a recall: the wait ended at the first
				}
				called[key] = true
				s := service(b.Service)
				s.Called++
				// The wait is issue → call: from the two events when both are in the day,
				// else as the kiosk measured it (issued before this day began).
				w := time.Duration(b.WaitedMS) * time.Millisecond
				if p, ok := issued[key]; ok {
					w = time.Duration(at-p.issuedAt) * time.Millisecond
				}
				waits[b.Service] = append(waits[b.Service], max(w, 0))
			}
		}
		return trows.Err()
	})
	if err != nil {
		return d, fmt.Errorf("hub: hall day: %w", err)
	}
	for name, s := range svc {
		if ws := waits[name]; len(ws) > 0 {
			var sum time.Duration
			for _, w := range ws {
				sum += w
			}
			s.AvgWait = sum / time.Duration(len(ws))
			s.P90Wait = Percentile(ws, 90)
		}
		d.Services = append(d.Services, *s)
	}
	sort.Slice(d.Services, func(i, j int) bool { return d.Services[i].Service < d.Services[j].Service })
	return d, nil
}

// Percentile is the p-th percentile of ds by the nearest-rank method (the smallest value with
// at least p % of the values at or below it); 0 for none.
func Percentile(ds []time.Duration, p int) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	rank := (p*len(s) + 99) / 100 // ceil(p/100 · n)
	return s[max(rank, 1)-1]
}

// AuditEntry is one line of the audit page.
type AuditEntry struct {
	At   time.Time
	Kind string // override, manual, code_revoked, device_revoked, issuer_revoked, policy
	// Who decided (a staff ID, for an override); empty for what the hub's own commands did.
	Who     string
	Hall    string
	Device  string
	Lane    string
	Subject string // a masked name, a code ID's first bytes, a device or issuer ID, a policy version
	Outcome string // PASS, DENY, MANUAL, RETRY for visits
	Detail  string // the override's note, the visit's reason, the policy's settings
}

// maxAudit bounds the audit entries of one day.
const maxAudit = 1000

// Audit lists in [from, to) (at most a day), newest first: staff decisions and manual ID entries
// (of hall, or every hall for ""), code, device and issuer revocations and policy versions
// published. At most maxAudit entries; more reports true.
func (h *Hub) Audit(ctx context.Context, hall string, from, to time.Time) ([]AuditEntry, bool, error) {
	if !to.After(from) || to.Sub(from) > maxDayRange {
		return nil, false, fmt.Errorf("hub: audit: range %s–%s: want up to a day", from, to)
	}
	f, t := wire.UnixMS(from), wire.UnixMS(to)
	var out []AuditEntry
	more := false
	err := h.readTx(ctx, func(tx *dbTx) error {
		q := `SELECT v.at, v.method, v.staff_id, COALESCE(d.hall, ''), v.device, v.lane, v.masked_name, v.outcome, v.reason, v.note
			FROM visits v LEFT JOIN devices d ON d.id = v.device
			WHERE v.method IN ('staff', 'manual') AND v.at >= ? AND v.at < ?`
		args := []any{f, t}
		if hall != "" {
			q += ` AND d.hall = ?`
			args = append(args, hall)
		}
		rows, err := tx.QueryContext(ctx, q+` ORDER BY v.at DESC LIMIT ?`, append(args, maxAudit+1)...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var e AuditEntry
			var at int64
			var method, reason, note string
			if err := rows.Scan(&at, &method, &e.Who, &e.Hall, &e.Device, &e.Lane, &e.Subject, &e.Outcome, &reason, &note); err != nil {
				return err
			}
			e.At, e.Kind, e.Detail = wire.FromUnixMS(at), "override", note
			if method == "manual" {
				e.Kind, e.Detail = "manual", reason
			}
			out = append(out, e)
		}
		if err := rows.Err(); err != nil {
			return err
		}
		rows.Close()
		// What the hub's own commands did is of every hall.
		others := []struct {
			kind, q string
		}{
			{"code_revoked", `SELECT revoked_at, cid, expires FROM revoked WHERE revoked_at >= ? AND revoked_at < ? ORDER BY revoked_at DESC LIMIT ?`},
			{"device_revoked", `SELECT revoked_at, id, hall FROM devices WHERE revoked_at >= ? AND revoked_at < ? ORDER BY revoked_at DESC LIMIT ?`},
			{"issuer_revoked", `SELECT revoked_at, id, '' FROM issuers WHERE revoked_at >= ? AND revoked_at < ? ORDER BY revoked_at DESC LIMIT ?`},
		}
		for _, o := range others {
			rows, err := tx.QueryContext(ctx, o.q, f, t, maxAudit+1)
			if err != nil {
				return err
			}
			for rows.Next() {
				var at int64
				var subject []byte
				var extra any
				if err := rows.Scan(&at, &subject, &extra); err != nil {
					rows.Close()
					return err
				}
				e := AuditEntry{At: wire.FromUnixMS(at), Kind: o.kind, Subject: string(subject)}
				switch o.kind {
				case "code_revoked":
					e.Subject = hex.EncodeToString(subject)
					if ms, ok := extra.(int64); ok {
						e.Detail = wire.FromUnixMS(ms).UTC().Format(time.RFC3339) // until
					}
				case "device_revoked":
					e.Hall = asString(extra)
					e.Device = e.Subject
				}
				out = append(out, e)
			}
			err = rows.Err()
			rows.Close()
			if err != nil {
				return err
			}
		}
		// Policy versions: published in the range (or, made before the hub recorded that,
		// valid from a time in it).
		prows, err := tx.QueryContext(ctx, `SELECT version, doc, published_at FROM policy ORDER BY version DESC LIMIT ?`, maxAudit)
		if err != nil {
			return err
		}
		defer prows.Close()
		for prows.Next() {
			var v, pub int64
			var doc []byte
			if err := prows.Scan(&v, &doc, &pub); err != nil {
				return err
			}
			var pv wire.PolicyVersion
			if err := json.Unmarshal(doc, &pv); err != nil {
				continue
			}
			at := wire.FromUnixMS(pub)
			if pub == 0 {
				at = pv.ValidFrom
			}
			if at.Before(from) || !at.Before(to) {
				continue
			}
			e := AuditEntry{At: at, Kind: "policy", Subject: fmt.Sprintf("v%d", v), Detail: policySummary(pv)}
			out = append(out, e)
		}
		return prows.Err()
	})
	if err != nil {
		return nil, false, fmt.Errorf("hub: audit: %w", err)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].At.After(out[j].At) })
	if len(out) > maxAudit {
		out, more = out[:maxAudit], true
	}
	return out, more, nil
}

func asString(v any) string {
	switch s := v.(type) {
	case string:
		return s
	case []byte:
		return string(s)
	}
	return ""
}

// policySummary is a policy version's settings in one line.
func policySummary(pv wire.PolicyVersion) string {
	s := "valid_from=" + pv.ValidFrom.UTC().Format(time.RFC3339)
	if pv.FeverC != 0 {
		s += fmt.Sprintf(" fever_c=%.1f", pv.FeverC)
	}
	if pv.StatusMaxAge != "" {
		s += " status_max_age=" + pv.StatusMaxAge
	}
	if pv.HardMaxAge != "" {
		s += " hard_max_age=" + pv.HardMaxAge
	}
	if pv.AbsentStatus != "" {
		s += " absent_status=" + pv.AbsentStatus
	}
	return s
}
