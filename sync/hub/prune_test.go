package hub

import (
	"strings"
	"testing"

	"onepass/sync/wire"
)

// TestPruneUsesIndex: on a status table of 20,000 persons (1 % tombstones, statistics gathered),
// both statements of the hourly prune are answered through the partial index status_tombstones,
// not by a scan of the whole table under the stream's lock.
func TestPruneUsesIndex(t *testing.T) { forBackends(t, testPruneUsesIndex) }

func testPruneUsesIndex(t *testing.T, be string) {
	h := newHub(t, be, Options{})
	fill := `WITH RECURSIVE g(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM g WHERE i < 20000)
		INSERT INTO status (epoch, person_key, seq, status, as_of, expires, reason, deleted, changed_at)
		SELECT 1, randomblob(32), i, 1, i, 0, '', CASE WHEN i % 100 = 0 THEN 1 ELSE 0 END, i FROM g`
	explain := `EXPLAIN QUERY PLAN `
	if be == "postgres" {
		fill = `INSERT INTO status (epoch, person_key, seq, status, as_of, expires, reason, deleted, changed_at)
			SELECT 1, sha256(int8send(i)), i, 1, i, 0, '', CASE WHEN i % 100 = 0 THEN 1 ELSE 0 END, i
			FROM generate_series(1, 20000) i`
		explain = `EXPLAIN `
	}
	for _, q := range []string{fill, `ANALYZE`} {
		if _, err := h.w.ExecContext(bg, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	for _, q := range []string{pruneMaxSeq, pruneDelete} {
		rows, err := h.w.QueryContext(bg, explain+q, 15000)
		if err != nil {
			t.Fatalf("explain %s: %v", q, err)
		}
		cols, _ := rows.Columns()
		var plan strings.Builder
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			// The plan's text is the last column on both (QUERY PLAN; SQLite's detail).
			switch v := vals[len(vals)-1].(type) {
			case string:
				plan.WriteString(v)
			case []byte:
				plan.Write(v)
			}
			plan.WriteByte('\n')
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		rows.Close()
		if !strings.Contains(plan.String(), "status_tombstones") {
			t.Errorf("%s\nplan without the index status_tombstones:\n%s", q, plan.String())
		}
	}
	// And the prune still does its job: tombstones older than changed_at 15,000 go.
	n, err := h.PruneBefore(bg, wire.FromUnixMS(15000))
	if err != nil || n != 149 {
		t.Fatalf("prune: %d, %v; want 149", n, err)
	}
}
