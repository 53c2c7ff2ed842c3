package client_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"onepass/sync/client"
	"onepass/sync/store"
)

type metaMap struct {
	m   map[string]string
	err error
}

func (m metaMap) Meta(_ context.Context, key string) ([]byte, bool, error) {
	if m.err != nil {
		return nil, false, m.err
	}
	v, ok := m.m[key]
	return []byte(v), ok, nil
}

func TestStoredClock(t *testing.T) {
	at := time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC)
	tests := []struct {
		name         string
		meta         metaMap
		skew         time.Duration
		measured     bool
		floors       [2]time.Time
		wantSkewErr  bool
		wantFloorErr bool
	}{
		{name: "nothing recorded yet", meta: metaMap{m: map[string]string{}}},
		{name: "hub 1.5 s ahead: the device is 1.5 s behind", meta: metaMap{m: map[string]string{store.MetaClockSkew: "1500"}},
			skew: -1500 * time.Millisecond, measured: true},
		{name: "hub behind", meta: metaMap{m: map[string]string{store.MetaClockSkew: "-600000"}}, skew: 10 * time.Minute, measured: true},
		{name: "floors", meta: metaMap{m: map[string]string{
			store.MetaTimeFloor: at.Format(time.RFC3339Nano), store.MetaReplicaIssuedAt: at.Add(time.Hour).Format(time.RFC3339Nano)}},
			floors: [2]time.Time{at, at.Add(time.Hour)}},
		{name: "garbage is an error, not a zero", meta: metaMap{m: map[string]string{store.MetaClockSkew: "soon", store.MetaTimeFloor: "today"}},
			wantSkewErr: true, wantFloorErr: true},
		{name: "the store fails", meta: metaMap{err: errors.New("disk")}, wantSkewErr: true, wantFloorErr: true},
	}
	ctx := context.Background()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := client.StoredClock(tt.meta)
			skew, measured, err := c.Skew(ctx)
			if (err != nil) != tt.wantSkewErr || skew != tt.skew || measured != tt.measured {
				t.Errorf("skew %v %v %v, want %v %v error %v", skew, measured, err, tt.skew, tt.measured, tt.wantSkewErr)
			}
			if len(c.Floors) != 2 {
				t.Fatalf("%d floors, want the time floor and the replica's issue time", len(c.Floors))
			}
			f0, err := c.Floors[0](ctx)
			if (err != nil) != tt.wantFloorErr || !f0.Equal(tt.floors[0]) {
				t.Errorf("time floor %v %v, want %v error %v", f0, err, tt.floors[0], tt.wantFloorErr)
			}
			if f1, err := c.Floors[1](ctx); !tt.wantFloorErr && (err != nil || !f1.Equal(tt.floors[1])) {
				t.Errorf("replica floor %v %v, want %v", f1, err, tt.floors[1])
			}
		})
	}
}
