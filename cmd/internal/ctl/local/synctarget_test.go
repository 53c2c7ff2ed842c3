package local

import (
	"errors"
	"testing"

	"onepass/cmd/internal/config"
	syncclient "onepass/sync/client"
)

// TestSyncTargetHubs: [sync] hubs counts as configured sync like hub, so an unenrolled kiosk with
// replicas configured fails the selftest's sync check instead of skipping it.
func TestSyncTargetHubs(t *testing.T) {
	for _, tt := range []struct {
		name       string
		hub        string
		hubs       []string
		configured bool
	}{
		{"neither", "", nil, false},
		{"hub", "https://hub-a:8443", nil, true},
		{"hubs", "", []string{"https://hub-a:8443", "https://hub-b:8443"}, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := config.Default()
			cfg.Data, cfg.Sync.Hub, cfg.Sync.Hubs = t.TempDir(), tt.hub, tt.hubs
			s := syncTarget(cfg)
			if (s != nil) != tt.configured {
				t.Fatalf("sync target %+v, want configured %v", s, tt.configured)
			}
			if s != nil && !errors.Is(s.Err, syncclient.ErrNotEnrolled) {
				t.Errorf("not enrolled: err %v", s.Err)
			}
		})
	}
}
