package escpos

import (
	"slices"
	"testing"
)

func TestStatusBits(t *testing.T) {
	for _, c := range []struct {
		name    string
		n, b    byte
		want    Status
		problem string
	}{
		{"printer ok", 1, 0x12, Status{}, ""},
		{"printer offline", 1, 0x1a, Status{Offline: true}, "offline"},
		{"cover open", 2, 0x16, Status{CoverOpen: true}, "cover open"},
		{"stopped by paper end", 2, 0x32, Status{PaperEnd: true}, "paper out"},
		{"error", 2, 0x52, Status{Error: true}, "error"},
		{"cutter", 3, 0x1a, Status{CutterError: true}, "cutter jammed"},
		{"unrecoverable", 3, 0x32, Status{Unrecoverable: true, Error: true}, "unrecoverable error"},
		{"paper near end", 4, 0x1e, Status{PaperNearEnd: true}, ""},
		{"paper end", 4, 0x72, Status{PaperEnd: true}, "paper out"},
		{"paper end and near end", 4, 0x7e, Status{PaperEnd: true, PaperNearEnd: true}, "paper out"},
	} {
		var s Status
		if err := s.Apply(c.n, c.b); err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		c.want.Answered = []byte{c.n}
		if !equal(s, c.want) || s.Problem() != c.problem {
			t.Errorf("%s: %+v (%q), want %+v (%q)", c.name, s, s.Problem(), c.want, c.problem)
		}
	}
	for _, b := range []byte{0x00, 0xff, 0x13, 0x92, 0x10, 0x02} {
		var s Status
		if err := s.Apply(2, b); err == nil {
			t.Errorf("%#02x accepted as a status reply", b)
		}
	}
	var s Status
	if err := s.Apply(9, 0x12); err == nil {
		t.Error("request 9 accepted")
	}
}

func equal(a, b Status) bool {
	return a.Offline == b.Offline && a.CoverOpen == b.CoverOpen && a.PaperEnd == b.PaperEnd && a.PaperNearEnd == b.PaperNearEnd &&
		a.CutterError == b.CutterError && a.Unrecoverable == b.Unrecoverable && a.Error == b.Error && slices.Equal(a.Answered, b.Answered)
}

func TestParseReplies(t *testing.T) {
	// XOFF (0x13) and a stray 0xff before the replies; the third request gets no answer.
	s, skipped := ParseReplies([]byte{2, 4, 1}, []byte{0x13, 0x16, 0xff, 0x1e})
	if skipped != 2 || !s.CoverOpen || !s.PaperNearEnd || !slices.Equal(s.Answered, []byte{2, 4}) {
		t.Errorf("got %+v, skipped %d", s, skipped)
	}
}

// FuzzParseReplies: any byte stream gives a status without failing, every answered request is
// one that was asked, in order, and a problem is reported only from bits that were seen.
func FuzzParseReplies(f *testing.F) {
	f.Add([]byte{2, 4}, []byte{0x12, 0x12})
	f.Add([]byte{1, 2, 3, 4}, []byte{0x1a, 0x36, 0x7e, 0x72})
	f.Add([]byte{4}, []byte{0x13, 0x11, 0xff, 0x00})
	f.Add([]byte{7, 0}, []byte{0x12})
	f.Fuzz(func(t *testing.T, ns, stream []byte) {
		s, skipped := ParseReplies(ns, stream)
		if len(s.Answered)+skipped > len(stream) {
			t.Fatalf("used %d+%d bytes of %d", len(s.Answered), skipped, len(stream))
		}
		if len(s.Answered) > len(ns) || !slices.Equal(s.Answered, ns[:len(s.Answered)]) {
			t.Fatalf("answered %v for requests %v", s.Answered, ns)
		}
		if len(s.Answered) == 0 && s.Problem() != "" {
			t.Fatalf("problem %q with no reply", s.Problem())
		}
		_ = s.Device()
	})
}
