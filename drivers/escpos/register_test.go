package escpos

import (
	"testing"
	"time"

	"onepass/device"
)

// TestParamsDurations: poll absent is the 30 s default, "0" turns it off; status_timeout absent is
// left for New to default. Each is parsed once, by device.Params.Decode.
func TestParamsDurations(t *testing.T) {
	tests := []struct {
		name          string
		p             device.Params
		poll, timeout time.Duration
	}{
		{"absent", device.Params{"port": "/dev/x"}, 30 * time.Second, 0},
		{"poll off", device.Params{"port": "/dev/x", "poll": "0"}, 0, 0},
		{"both set", device.Params{"port": "/dev/x", "poll": "2m", "status_timeout": "300ms"}, 2 * time.Minute, 300 * time.Millisecond},
	}
	for _, tt := range tests {
		var c params
		if err := tt.p.Decode(&c); err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		o := c.options()
		if o.Poll != tt.poll || o.StatusTimeout != tt.timeout {
			t.Errorf("%s: poll %v status_timeout %v, want %v %v", tt.name, o.Poll, o.StatusTimeout, tt.poll, tt.timeout)
		}
	}
}
