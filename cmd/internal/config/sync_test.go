package config

import (
	"strings"
	"testing"
	"time"
)

func TestSyncSection(t *testing.T) {
	tests := []struct {
		text, err string
	}{
		{"[sync]\nhub = \"https://hub.example:8443\"\npull_interval = \"30s\"\noutbox_limit = 5000\n", ""},
		{"[sync]\nhub = \"http://hub.example\"\n", "sync.hub"},
		{"[sync]\npull_interval = \"10ms\"\n", "sync.pull_interval"},
		{"[sync]\noutbox_limit = 3\n", "sync.outbox_limit"},
		{"[sync]\nhubb = \"https://x\"\n", "unknown key sync.hubb"},
	}
	for _, tt := range tests {
		c := Default()
		err := c.parse(tt.text)
		if (err == nil) != (tt.err == "") || (err != nil && !strings.Contains(err.Error(), tt.err)) {
			t.Errorf("%q: %v, want %q", tt.text, err, tt.err)
		}
		if err == nil && (c.Sync.Hub != "https://hub.example:8443" || c.Sync.PullInterval.Duration != 30*time.Second ||
			c.Sync.PushInterval.Duration != 5*time.Second || c.Sync.OutboxLimit != 5000) {
			t.Errorf("parsed %+v", c.Sync)
		}
	}
}
