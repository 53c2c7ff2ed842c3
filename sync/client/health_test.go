package client_test

import (
	"encoding/json"
	"testing"
	"time"

	"onepass/device"
	"onepass/sync/client"
)

// TestHealthMatchesDevice: the client's own health type keeps the wire shape and the state
// strings of device.Health, which the daemon maps it to and which GET /api/sync has always shown.
func TestHealthMatchesDevice(t *testing.T) {
	since := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, tc := range []struct {
		c client.HealthState
		d device.HealthState
	}{
		{client.OK, device.OK},
		{client.Degraded, device.Degraded},
		{client.Down, device.Down},
	} {
		for _, reason := range []string{"", "upload failing: hub answered 503"} {
			ch := client.Health{State: tc.c, Reason: reason, Since: since}
			dh := device.Health{State: tc.d, Reason: reason, Since: since}
			cj, err := json.Marshal(ch)
			if err != nil {
				t.Fatal(err)
			}
			dj, err := json.Marshal(dh)
			if err != nil {
				t.Fatal(err)
			}
			if string(cj) != string(dj) {
				t.Errorf("JSON %s, device.Health gives %s", cj, dj)
			}
			if ch.String() != dh.String() {
				t.Errorf("String %q, device.Health gives %q", ch, dh)
			}
			var back client.Health
			if err := json.Unmarshal(dj, &back); err != nil || back != ch {
				t.Errorf("device.Health JSON %s decodes to %+v (%v)", dj, back, err)
			}
		}
	}
}
