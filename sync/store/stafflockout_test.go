package store

import (
	"context"
	"path/filepath"
	"reflect"
	"testing"
	"time"
)

// Lock-outs survive closing and reopening the file; a replaced row keeps one row per key; a
// deleted key is gone.
func TestStaffLockoutsSurviveReopen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "onepass.db")
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.UnixMilli(time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC).UnixMilli())
	rows := []StaffLockout{
		{Key: "id:7", Failed: 0, Until: t0.Add(5 * time.Minute), Last: t0},
		{Key: "ip:10.0.0.1", Failed: 4, Streak: 4, Last: t0.Add(-time.Second)},
		{Key: "id:nobody", Failed: 1, Last: t0.Add(-time.Minute)},
	}
	if err := s.SaveStaffLockouts(ctx, rows, nil); err != nil {
		t.Fatal(err)
	}
	rows[1].Failed, rows[1].Streak = 5, 5
	if err := s.SaveStaffLockouts(ctx, rows[1:2], []string{"id:nobody", "id:never-stored"}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got, err := s.StaffLockouts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := rows[:2] // newest failure first
	for i := range got {
		got[i].Until, got[i].Last = got[i].Until.UTC(), got[i].Last.UTC()
	}
	for i := range want {
		if !want[i].Until.IsZero() {
			want[i].Until = want[i].Until.UTC()
		}
		want[i].Last = want[i].Last.UTC()
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("after reopen:\n got  %+v\n want %+v", got, want)
	}
}
