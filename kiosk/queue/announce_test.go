package queue

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jonboulle/clockwork"
)

// The hall screen learns from the board whether to say calls in English too.
func TestBoardAnnounceEn(t *testing.T) {
	for _, en := range []bool{false, true} {
		cfg := testConfig()
		cfg.AnnounceEn = en
		h := start(t, cfg, filepath.Join(t.TempDir(), "onepass.db"), clockwork.NewFakeClockAt(t0), nil)
		b := h.q.Board()
		if b.AnnounceEn != en {
			t.Errorf("announce_en %v: board says %v", en, b.AnnounceEn)
		}
		j, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Contains(string(j), `"announce_en":true`); got != en {
			t.Errorf("announce_en %v: board JSON %s", en, j)
		}
	}
}
