package policy

import (
	"testing"
	"time"
)

func TestInForce(t *testing.T) {
	now := time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC)
	configured := Default()
	tests := []struct {
		name     string
		versions []Version
		want     Policy
		wantVer  int64 // 0: none in force
		wantErr  bool
	}{
		{"no versions: the configured policy", nil, configured, 0, false},
		{"a version not yet valid waits", []Version{{Version: 2, ValidFrom: now.Add(time.Minute), FeverC: 37.0}},
			configured, 0, false},
		{"valid from exactly now is in force", []Version{{Version: 2, ValidFrom: now, FeverC: 37.0}},
			Policy{FeverC: 37.0, StatusMaxAge: configured.StatusMaxAge, AbsentStatus: configured.AbsentStatus}, 2, false},
		{"the newest valid version wins", []Version{
			{Version: 3, ValidFrom: now.Add(-time.Hour), FeverC: 37.1},
			{Version: 5, ValidFrom: now.Add(-time.Minute), FeverC: 37.5},
			{Version: 4, ValidFrom: now.Add(-2 * time.Hour), FeverC: 37.2},
			{Version: 6, ValidFrom: now.Add(time.Hour), FeverC: 36.0},
		}, Policy{FeverC: 37.5, StatusMaxAge: configured.StatusMaxAge, AbsentStatus: configured.AbsentStatus}, 5, false},
		{"the highest number wins, not the latest start", []Version{
			{Version: 7, ValidFrom: now.Add(-2 * time.Hour), AbsentStatus: AbsentGreen},
			{Version: 6, ValidFrom: now.Add(-time.Minute), AbsentStatus: AbsentManual},
		}, Policy{FeverC: configured.FeverC, StatusMaxAge: configured.StatusMaxAge, AbsentStatus: AbsentGreen}, 7, false},
		{"a partial overlay keeps the configured rest", []Version{{Version: 1, ValidFrom: now.Add(-time.Hour), StatusMaxAge: time.Hour}},
			Policy{FeverC: configured.FeverC, StatusMaxAge: time.Hour, AbsentStatus: configured.AbsentStatus}, 1, false},
		{"every field laid over", []Version{{Version: 1, ValidFrom: now.Add(-time.Hour), FeverC: 37.6, StatusMaxAge: 2 * time.Hour, AbsentStatus: AbsentGreen}},
			Policy{FeverC: 37.6, StatusMaxAge: 2 * time.Hour, AbsentStatus: AbsentGreen}, 1, false},
		{"an invalid result is refused", []Version{{Version: 9, ValidFrom: now.Add(-time.Hour), FeverC: 45}},
			configured, 9, true},
		{"an unknown absent status is refused", []Version{{Version: 9, ValidFrom: now.Add(-time.Hour), AbsentStatus: "maybe"}},
			configured, 9, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, v, err := InForce(configured, tt.versions, now)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("policy %+v, want %+v", got, tt.want)
			}
			switch {
			case tt.wantVer == 0 && v != nil:
				t.Errorf("version %d in force, want none", v.Version)
			case tt.wantVer != 0 && (v == nil || v.Version != tt.wantVer):
				t.Errorf("version %v, want %d", v, tt.wantVer)
			}
		})
	}
}
