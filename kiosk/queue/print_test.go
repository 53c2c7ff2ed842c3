package queue

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/jonboulle/clockwork"

	"onepass/device"
)

// statusPrinter fails its prints with err and reports st (or stErr) when asked; with block set
// it holds every print until the print's context ends, telling started first.
type statusPrinter struct {
	err     error
	st      device.PrinterStatus
	stErr   error
	block   bool
	started chan struct{}
}

func (p *statusPrinter) Print(ctx context.Context, t device.Ticket) error {
	if p.block {
		close(p.started)
		<-ctx.Done()
		return ctx.Err()
	}
	return p.err
}
func (p *statusPrinter) Status(context.Context) (device.PrinterStatus, error) { return p.st, p.stErr }
func (p *statusPrinter) Health() device.Health                                { return device.Healthy(t0) }
func (p *statusPrinter) SelfTest(context.Context) error                       { return nil }
func (p *statusPrinter) Close() error                                         { return nil }

// TestIssueWaitsForThePrinter: a staff issue answers whether the ticket was printed and, if not,
// why, in words the staff and onepassctl pass on; a kiosk issue does not wait.
func TestIssueWaitsForThePrinter(t *testing.T) {
	notReady := errors.New("escpos: printer not ready: paper out")
	for _, tt := range []struct {
		name         string
		printer      device.TicketPrinter
		wait         bool
		printed      bool
		zh, en       string
		wantPrinting bool
	}{
		{"printed", &statusPrinter{st: device.PrinterStatus{Online: true}}, true, true, "", "", true},
		{"paper out", &statusPrinter{err: notReady, st: device.PrinterStatus{Online: true, PaperOut: true}}, true, false, "缺纸", "paper out", true},
		{"cover open", &statusPrinter{err: notReady, st: device.PrinterStatus{Online: true, CoverOpen: true}}, true, false, "纸仓盖未关", "cover open", true},
		{"offline", &statusPrinter{err: notReady, st: device.PrinterStatus{}}, true, false, "打印机离线", "printer offline", true},
		{"status unanswered", &statusPrinter{err: errors.New("escpos: printer port: gone"), stErr: errors.New("no answer")}, true, false, "打印机故障", "escpos: printer port: gone", true},
		{"no printer", nil, true, false, "", "", false},
		{"kiosk does not wait", &statusPrinter{err: notReady, st: device.PrinterStatus{PaperOut: true}}, false, false, "", "", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := start(t, testConfig(), filepath.Join(t.TempDir(), "onepass.db"), clockwork.NewFakeClockAt(t0), tt.printer)
			is, err := h.q.Issue(context.Background(), IssueRequest{Service: "A", Print: true, WaitPrint: tt.wait})
			if err != nil {
				t.Fatal(err)
			}
			if is.Printing != tt.wantPrinting || is.Printed != tt.printed || is.PrintProblemZh != tt.zh || is.PrintProblem != tt.en {
				t.Errorf("issued %+v; want printing %v, printed %v, problem %q / %q", is, tt.wantPrinting, tt.printed, tt.zh, tt.en)
			}
		})
	}
}

// TestIssueStopsWaitingWithItsCaller: a printer that never answers does not hold the staff
// member's request beyond its context; the answer says the printer did not answer.
func TestIssueStopsWaitingWithItsCaller(t *testing.T) {
	pr := &statusPrinter{block: true, started: make(chan struct{})}
	h := start(t, testConfig(), filepath.Join(t.TempDir(), "onepass.db"), clockwork.NewFakeClockAt(t0), pr)
	ctx, cancel := context.WithCancel(context.Background())
	go func() { <-pr.started; cancel() }()
	is, err := h.q.Issue(ctx, IssueRequest{Service: "A", Print: true, WaitPrint: true})
	if err != nil {
		t.Fatal(err)
	}
	if is.Printed || is.PrintProblemZh != "打印机未及时应答" || is.Ticket.Number != "A001" {
		t.Errorf("issued %+v", is)
	}
}
