package kiosk

import (
	"bytes"
	"testing"
	"time"

	"onepass/device"
	"onepass/identity"
	"onepass/kiosk/policy"
	"onepass/sync/store"
)

// TestSetKeysAndPolicy: sync hands the lane a new deployment key and the platform's policy; the
// lane uses them from its next turn on.
func TestSetKeysAndPolicy(t *testing.T) {
	h := newHarness(t, nil)
	const id = "11010519491231002X"
	newKey := bytes.Repeat([]byte{9}, 32)
	pk := identity.PersonKey(newKey, identity.CertResident, id)
	h.rep.rows[string(pk)] = store.StatusRow{PersonKey: pk, Status: int(policy.StatusRed), AsOf: h.clock.Now()}

	// Under the old key the person is unknown: green in a region that syncs only exceptions.
	h.card(id, "王五")
	if v := h.person(36.5); v.Outcome != policy.Pass {
		t.Fatalf("old key: %s %s", v.Outcome, v.Reason)
	}
	h.wait(10 * time.Second)
	h.lane.SetKeys(Keys{Deployment: newKey, Sealer: h.keys.Sealer})
	p := h.lane.cfg.Policy
	p.FeverC = 36.0
	h.lane.SetPolicy(p)
	h.card(id, "王五")
	if v := h.person(36.5); v.Outcome != policy.Deny || v.Reason != policy.ReasonFever {
		t.Fatalf("after the platform's policy (fever at 36.0): %s %s", v.Outcome, v.Reason)
	}
	h.wait(10 * time.Second)
	p.FeverC = 37.3
	h.lane.SetPolicy(p)
	h.card(id, "王五")
	if v := h.person(36.5); v.Outcome != policy.Deny || v.Reason != policy.ReasonStatusRed {
		t.Fatalf("new key: %s %s", v.Outcome, v.Reason)
	}
}

func TestSyncHealthIsAPart(t *testing.T) {
	h := newHarness(t, nil)
	if _, ok := h.lane.View().Health["sync"]; ok {
		t.Fatal("a lane without sync shows a sync part")
	}
	l := New(DefaultConfig(), Parts{}, Options{SyncHealth: func() device.Health {
		return device.Health{State: device.Degraded, Reason: "pull failing"}
	}})
	if s := l.View().Health["sync"]; s.State != device.Degraded || s.Reason != "pull failing" {
		t.Fatalf("sync health: %+v", s)
	}
}
