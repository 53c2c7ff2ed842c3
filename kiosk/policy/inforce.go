package policy

import (
	"fmt"
	"time"
)

// Version is one version of the platform's policy as delivered by sync. A zero field is not
// set by the platform and leaves the configured value in place.
type Version struct {
	Version      int64
	ValidFrom    time.Time
	FeverC       float64
	StatusMaxAge time.Duration
	AbsentStatus AbsentStatus
}

// InForce is the policy the lane uses at now: the configured one with the fields of the
// platform's version in force (the highest version whose ValidFrom has passed) laid over it.
// Versions delivered early wait for their time, so an offline kiosk switches on schedule. It
// returns the version applied, nil when none is in force yet (the configured policy stands), and
// an error when the overlay makes a policy that fails Validate: the caller keeps what it had.
func InForce(configured Policy, versions []Version, now time.Time) (Policy, *Version, error) {
	var cur *Version
	for i, v := range versions {
		if !v.ValidFrom.After(now) && (cur == nil || v.Version > cur.Version) {
			cur = &versions[i]
		}
	}
	if cur == nil {
		return configured, nil, nil
	}
	p := configured
	if cur.FeverC != 0 {
		p.FeverC = cur.FeverC
	}
	if cur.StatusMaxAge > 0 {
		p.StatusMaxAge = cur.StatusMaxAge
	}
	if cur.AbsentStatus != "" {
		p.AbsentStatus = cur.AbsentStatus
	}
	if err := p.Validate(); err != nil {
		return configured, cur, fmt.Errorf("policy version %d: %w", cur.Version, err)
	}
	return p, cur, nil
}
