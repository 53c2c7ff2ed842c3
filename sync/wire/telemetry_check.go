package wire

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"
)

// What a telemetry report may hold. The hub checks a report with CheckTelemetry and ignores one
// that fails (the records beside it are ingested all the same); the kiosk trims its report with
// ClampTelemetry first, so a report it sends is one the hub keeps.
const (
	MaxTelemetryBytes  = 32 << 10 // the report's JSON: all lists full at their longest fits
	MaxTelemetryParts  = 32
	MaxTelemetryQueues = 64
	MaxTelemetryName   = 32  // bytes: a part's or a service's name
	MaxTelemetryText   = 64  // bytes: the version
	MaxTelemetryReason = 256 // bytes: a part's health reason
	MaxTelemetryQueue  = 1_000_000
)

// Health states of a part in a report: device.Health's, and unused (a fitted part the hall's
// policy does not use, which is not ok, so it stops no pass).
var TelemetryStates = []string{"ok", "degraded", "down", "not_configured", "unused"}

// Paper states of a report: the ticket printer's paper, unknown when the printer did not answer,
// none without a printer.
var TelemetryPaper = []string{"ok", "low", "out", "unknown", "none"}

// CheckTelemetry says why a report cannot be kept, or nil when it is well formed.
func CheckTelemetry(t Telemetry) error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if t.At.IsZero() {
		bad("at is missing")
	}
	if !cleanText(t.Version, MaxTelemetryText) {
		bad("version: want at most %d bytes of UTF-8 without NUL", MaxTelemetryText)
	}
	if t.UptimeS < 0 || t.OutboxDepth < 0 || t.ReplicaAgeS < -1 {
		bad("uptime_s, outbox_depth or replica_age_s negative")
	}
	if !slices.Contains(TelemetryPaper, t.Paper) {
		bad("paper %q unknown", t.Paper)
	}
	if len(t.Parts) > MaxTelemetryParts {
		bad("%d parts, at most %d", len(t.Parts), MaxTelemetryParts)
	} else {
		for _, p := range t.Parts {
			switch {
			case p.Part == "" || !cleanText(p.Part, MaxTelemetryName):
				bad("part name %q: want 1–%d bytes of UTF-8 without NUL", p.Part, MaxTelemetryName)
			case !slices.Contains(TelemetryStates, p.State):
				bad("part %s: state %q unknown", p.Part, p.State)
			case !cleanText(p.Reason, MaxTelemetryReason):
				bad("part %s: reason: want at most %d bytes of UTF-8 without NUL", p.Part, MaxTelemetryReason)
			}
		}
	}
	if len(t.Queues) > MaxTelemetryQueues {
		bad("%d queues, at most %d", len(t.Queues), MaxTelemetryQueues)
	} else {
		for _, q := range t.Queues {
			if q.Service == "" || !cleanText(q.Service, MaxTelemetryName) || q.Waiting < 0 || q.Waiting > MaxTelemetryQueue {
				bad("queue %q: want a service of 1–%d bytes and 0–%d waiting", q.Service, MaxTelemetryName, MaxTelemetryQueue)
			}
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("telemetry: %w", errors.Join(errs...))
	}
	return nil
}

// ClampTelemetry trims a report to the limits: long texts are cut at a character boundary, NUL
// and invalid UTF-8 replaced, lists cut to their maximum, counts bounded, unknown states and paper
// states named unknown… so what the kiosk sends passes CheckTelemetry.
func ClampTelemetry(t Telemetry) Telemetry {
	t.Version = clampText(t.Version, MaxTelemetryText)
	t.UptimeS, t.OutboxDepth, t.ReplicaAgeS = max(t.UptimeS, 0), max(t.OutboxDepth, 0), max(t.ReplicaAgeS, -1)
	if !slices.Contains(TelemetryPaper, t.Paper) {
		t.Paper = "unknown"
	}
	parts := make([]PartHealth, 0, min(len(t.Parts), MaxTelemetryParts))
	for _, p := range t.Parts {
		if len(parts) == MaxTelemetryParts {
			break
		}
		p.Part = clampText(p.Part, MaxTelemetryName)
		if p.Part == "" {
			continue
		}
		if !slices.Contains(TelemetryStates, p.State) {
			// A state this version does not know is no good news: say so rather than drop it.
			p.Reason, p.State = strings.TrimSpace("state "+p.State+"; "+p.Reason), "degraded"
		}
		p.Reason = clampText(p.Reason, MaxTelemetryReason)
		parts = append(parts, p)
	}
	t.Parts = parts
	var qs []QueueLength
	for _, q := range t.Queues {
		if len(qs) == MaxTelemetryQueues {
			break
		}
		q.Service = clampText(q.Service, MaxTelemetryName)
		if q.Service == "" {
			continue
		}
		q.Waiting = min(max(q.Waiting, 0), MaxTelemetryQueue)
		qs = append(qs, q)
	}
	t.Queues = qs
	return t
}

func cleanText(s string, maxBytes int) bool {
	return len(s) <= maxBytes && utf8.ValidString(s) && !strings.ContainsRune(s, 0)
}

// clampText makes s valid UTF-8 without NUL of at most maxBytes, cut at a character boundary.
func clampText(s string, maxBytes int) string {
	s = strings.ToValidUTF8(strings.ReplaceAll(s, "\x00", ""), "\uFFFD")
	if len(s) <= maxBytes {
		return s
	}
	cut := maxBytes
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut]
}
