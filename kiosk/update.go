package kiosk

import "onepass/kiosk/policy"

// SetKeys replaces the deployment keys: sync delivers them at enrollment and after a key
// rotation. The lane uses them from its next turn on (within a tick), never halfway through one.
func (l *Lane) SetKeys(k Keys) {
	l.mu.Lock()
	l.nextKeys = &k
	l.mu.Unlock()
}

// SetPolicy replaces the hall policy (the platform's version in force); like SetKeys it applies
// from the lane's next turn on.
func (l *Lane) SetPolicy(p policy.Policy) {
	l.mu.Lock()
	l.nextPolicy = &p
	l.mu.Unlock()
}

// takeUpdates applies pending updates; called by the Run goroutine only.
func (l *Lane) takeUpdates() {
	l.mu.Lock()
	k, p := l.nextKeys, l.nextPolicy
	l.nextKeys, l.nextPolicy = nil, nil
	l.mu.Unlock()
	if k != nil {
		l.keys = *k
	}
	if p != nil {
		l.cfg.Policy = *p
	}
}
