package hub

import (
	"strings"
	"testing"

	"github.com/google/uuid"

	"onepass/sync/wire"
)

func TestRebind(t *testing.T) {
	for _, tc := range []struct {
		pg       bool
		in, want string
	}{
		{true, `SELECT 1`, `SELECT 1`},
		{true, `SELECT a FROM t WHERE b = ? AND c > ? LIMIT ?`, `SELECT a FROM t WHERE b = $1 AND c > $2 LIMIT $3`},
		{true, `VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, `VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`},
		{false, `SELECT a FROM t WHERE b = ?`, `SELECT a FROM t WHERE b = ?`},
	} {
		if got := rebind(tc.pg, tc.in); got != tc.want {
			t.Errorf("rebind(%v, %q) = %q, want %q", tc.pg, tc.in, got, tc.want)
		}
	}
}

func TestCheckDBAndRedact(t *testing.T) {
	for _, tc := range []struct {
		url, err string // err: what the error must say ("" none)
	}{
		{"", ""},
		{"postgres://u@h/db", ""},
		{"postgresql:///db?host=/run/postgresql", ""},
		{"mysql://u@h/db", "want postgres://"},
		{"/var/lib/onepass-hub/hub.db", "want postgres://"},
		{"pg://u:secret@h/db", "pg://u:xxxxx@h/db"},
	} {
		err := CheckDB(tc.url)
		switch {
		case tc.err == "" && err != nil:
			t.Errorf("CheckDB(%q): %v", tc.url, err)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err) || strings.Contains(err.Error(), "secret")):
			t.Errorf("CheckDB(%q) = %v, want it to say %q and hide the password", tc.url, err, tc.err)
		}
	}
	if got := redactURL("postgres://hub:pw@db:5432/hub?sslmode=verify-full"); got != "postgres://hub:xxxxx@db:5432/hub?sslmode=verify-full" {
		t.Errorf("redactURL = %q", got)
	}
}

// BenchmarkIngest stores batches of 500 new visits (a kiosk's upload) on each backend.
func BenchmarkIngest(b *testing.B) {
	for _, be := range []string{"sqlite", "postgres"} {
		b.Run(be, func(b *testing.B) {
			h := newHub(b, be, Options{})
			batch := make([]wire.Record, 500)
			b.ResetTimer()
			for b.Loop() {
				for i := range batch {
					batch[i] = rec(uuid.NewString(), nil)
				}
				ack, err := h.Ingest(bg, "d-bench", batch)
				if err != nil || len(ack.Accepted) != len(batch) {
					b.Fatalf("%v %+v", err, ack.Rejected)
				}
			}
			b.ReportMetric(float64(b.N*len(batch))/b.Elapsed().Seconds(), "visits/s")
		})
	}
}
