package dashboard

import (
	"fmt"
	"sort"
	"time"

	"onepass/sync/hub"
)

// Health colours of the fleet page.
const (
	green = "green"
	amber = "amber"
	red   = "red"
	grey  = "grey" // not configured, unused, no report yet, revoked
)

// Thresholds of the fleet page beyond the push interval and the clock skew.
const (
	// replicaAmber is the age of a kiosk's status replica that needs a look (the kiosks pull
	// every minute by default; an hour means pulls have failed for long).
	replicaAmber = time.Hour
)

// partView is one part's light.
type partView struct {
	Part, State, Reason, Colour string
	Since                       time.Time
}

// kioskView is one kiosk's row on the fleet page.
type kioskView struct {
	ID, Hall, Version string
	LastSeen          time.Time
	SeenAgo           time.Duration
	Silent, Revoked   bool
	Reported          bool // a telemetry report has arrived
	Parts             []partView
	OutboxDepth       int64
	OutboxLag         time.Duration
	ReplicaAge        time.Duration // -1: no replica yet
	Skew              time.Duration
	SkewKnown         bool // the kiosk has measured its skew (else Skew is no measurement)
	Paper             string
	Colour            string   // the row's worst light
	Problems          []string // text keys of why it needs attention
}

// Attention reports a kiosk that needs someone: anything amber or red.
func (k kioskView) Attention() bool { return k.Colour == red || k.Colour == amber }

func partColour(state string) string {
	switch state {
	case "ok":
		return green
	case "degraded":
		return amber
	case "down":
		return red
	}
	return grey
}

func worse(a, b string) string {
	rank := map[string]int{grey: 0, green: 1, amber: 2, red: 3}
	if rank[b] > rank[a] {
		return b
	}
	return a
}

// assess turns a device into its fleet row. A kiosk not seen for more than three push intervals
// is silent (red): it reports with every push. Without a telemetry report only what the hub
// itself saw is judged.
func assess(d hub.Device, now time.Time, push, maxSkew time.Duration) kioskView {
	k := kioskView{ID: d.ID, Hall: d.Hall, Version: d.Software, LastSeen: d.LastSeen, OutboxDepth: d.OutboxDepth,
		ReplicaAge: -1, Colour: green}
	if !d.LastSeen.IsZero() {
		k.SeenAgo = max(now.Sub(d.LastSeen), 0)
	}
	if !d.OutboxOldest.IsZero() && d.OutboxDepth > 0 {
		k.OutboxLag = max(now.Sub(d.OutboxOldest), 0)
	}
	if !d.RevokedAt.IsZero() {
		k.Revoked, k.Colour = true, grey
		return k // no technician for a kiosk taken out of service
	}
	problem := func(c, key string) {
		k.Colour = worse(k.Colour, c)
		k.Problems = append(k.Problems, key)
	}
	if d.LastSeen.IsZero() || k.SeenAgo > 3*push {
		k.Silent = true
		problem(red, "p_silent")
	}
	if t := d.Telemetry; t != nil {
		k.Reported = true
		if t.Version != "" {
			k.Version = t.Version
		}
		k.OutboxDepth = t.OutboxDepth
		k.OutboxLag = 0
		if !t.OutboxOldest.IsZero() && t.OutboxDepth > 0 {
			k.OutboxLag = max(d.TelemetryAt.Sub(t.OutboxOldest), 0)
		}
		k.ReplicaAge = time.Duration(t.ReplicaAgeS) * time.Second
		if t.ReplicaAgeS < 0 {
			k.ReplicaAge = -1
		}
		k.Skew, k.SkewKnown = time.Duration(t.ClockSkewMs)*time.Millisecond, t.SkewMeasured()
		k.Paper = t.Paper
		for _, p := range t.Parts {
			pv := partView{Part: p.Part, State: p.State, Reason: p.Reason, Since: p.Since, Colour: partColour(p.State)}
			k.Parts = append(k.Parts, pv)
			switch pv.Colour {
			case red:
				problem(red, "p_part_down")
			case amber:
				problem(amber, "p_part_degraded")
			}
		}
		sort.Slice(k.Parts, func(i, j int) bool { return k.Parts[i].Part < k.Parts[j].Part })
		switch t.Paper {
		case "out":
			problem(red, "p_paper_out")
		case "low":
			problem(amber, "p_paper_low")
		}
		if k.ReplicaAge < 0 || k.ReplicaAge > replicaAmber {
			problem(amber, "p_replica_old")
		}
		if k.SkewKnown && (k.Skew > maxSkew || -k.Skew > maxSkew) {
			problem(amber, "p_skew")
		}
	}
	if k.OutboxLag > 3*push {
		problem(amber, "p_outbox_lag")
	}
	return k
}

// fleetView sorts the rows: red first, then amber, then by hall and ID.
func fleetView(ds []hub.Device, now time.Time, push, maxSkew time.Duration, onlyAttention bool) (rows []kioskView, attention int) {
	rank := map[string]int{red: 0, amber: 1, green: 2, grey: 3}
	for _, d := range ds {
		k := assess(d, now, push, maxSkew)
		if k.Attention() {
			attention++
		} else if onlyAttention {
			continue
		}
		rows = append(rows, k)
	}
	sort.SliceStable(rows, func(i, j int) bool {
		a, b := rows[i], rows[j]
		if rank[a.Colour] != rank[b.Colour] {
			return rank[a.Colour] < rank[b.Colour]
		}
		if a.Hall != b.Hall {
			return a.Hall < b.Hall
		}
		return a.ID < b.ID
	})
	return rows, attention
}

// ago says a duration shortly (3s, 4m, 2h5m, 3d).
func ago(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d/time.Second))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d/time.Minute))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh%02dm", int(d/time.Hour), int(d%time.Hour/time.Minute))
	}
	return fmt.Sprintf("%dd", int(d/(24*time.Hour)))
}
