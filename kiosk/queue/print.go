package queue

import (
	"context"
	"errors"
	"fmt"

	"onepass/device"
)

// printJob is a ticket waiting for the printer.
type printJob struct {
	t      device.Ticket
	number string
	kiosk  bool             // the citizen's screen follows this print
	done   chan printResult // nil: nobody waits; else buffered (1), so the loop never blocks
}

// printResult is how one print went: err nil, or err and the problem in words.
type printResult struct {
	err    error
	zh, en string
}

// Print problems as the staff and onepassctl are told them.
const (
	problemPaperZh, problemPaperEn       = "缺纸", "paper out"
	problemCoverZh, problemCoverEn       = "纸仓盖未关", "cover open"
	problemOfflineZh, problemOfflineEn   = "打印机离线", "printer offline"
	problemFullZh, problemFullEn         = "打印队列已满", "print queue full"
	problemNoAnswerZh, problemNoAnswerEn = "打印机未及时应答", "the printer did not answer in time"
	problemErrorZh                       = "打印机故障"
)

// enqueuePrint hands a new ticket to the printer and, for a kiosk ticket, makes it the one the
// citizen's screen shows. It reports whether the ticket was queued for printing: with no printer
// or a full print queue the number is still shown, and the board lists it as unprinted. With
// wait, done answers once the print is over (nil when nothing was queued).
func (q *Queue) enqueuePrint(is Issued, passID string, kiosk, wait bool) (bool, <-chan printResult) {
	t := is.Ticket
	s, _ := q.cfg.service(t.Service)
	dt := device.Ticket{Number: t.Number, Service: s.Name, Hall: q.cfg.Hall, IssuedAt: t.IssuedAt,
		Waiting: is.Ahead, URL: q.ticketURL(t), Priority: t.Priority != Normal, Slot: t.Slot}
	q.mu.Lock()
	defer q.mu.Unlock()
	if kiosk {
		seq := uint64(1)
		if q.kiosk != nil {
			seq = q.kiosk.Seq + 1
		}
		q.kiosk = &KioskTicket{Seq: seq, PassID: passID, Number: t.Number, Service: t.Service, ServiceName: s.Name,
			ServiceEn: s.NameEn, Ahead: is.Ahead, Slot: t.Slot, Print: "printing", At: q.clock.Now()}
	}
	queued := false
	var done chan printResult
	switch {
	case q.printer == nil:
		if kiosk {
			q.kiosk.Print = "off"
		}
	default:
		j := printJob{t: dt, number: t.Number, kiosk: kiosk}
		if wait {
			j.done = make(chan printResult, 1)
		}
		select {
		case q.prints <- j:
			queued, done = true, j.done
		default:
			q.failedLocked(t.Number, errors.New(problemFullEn), kiosk)
		}
	}
	q.republish()
	return queued, done
}

// awaitPrint fills in is.Printed and the print problem from the print's answer on done (nil:
// the ticket was never queued). The wait is bounded: a print ahead in the queue and this one
// each end within the print timeout.
func (q *Queue) awaitPrint(ctx context.Context, is *Issued, done <-chan printResult) {
	switch {
	case q.printer == nil:
		return // no printer: nothing was wanted of one
	case done == nil:
		is.PrintProblemZh, is.PrintProblem = problemFullZh, problemFullEn
		return
	}
	wctx, cancel := context.WithTimeout(ctx, 2*q.cfg.PrintTimeout)
	defer cancel()
	select {
	case r := <-done:
		is.Printed = r.err == nil
		is.PrintProblemZh, is.PrintProblem = r.zh, r.en
	case <-wctx.Done():
		is.PrintProblemZh, is.PrintProblem = problemNoAnswerZh, problemNoAnswerEn
	}
}

// describePrintFailure puts a failed print in words. It asks the printer what is wrong (paper,
// cover, offline), which names the problem without depending on a driver's error text; a
// printer that cannot say gives the error itself.
func (q *Queue) describePrintFailure(ctx context.Context, err error) (zh, en string) {
	st, serr := q.printer.Status(ctx)
	switch {
	case serr == nil && st.PaperOut:
		return problemPaperZh, problemPaperEn
	case serr == nil && st.CoverOpen:
		return problemCoverZh, problemCoverEn
	case serr == nil && !st.Online:
		return problemOfflineZh, problemOfflineEn
	case errors.Is(err, context.DeadlineExceeded):
		return problemNoAnswerZh, problemNoAnswerEn
	}
	return problemErrorZh, err.Error()
}

// printLoop prints tickets one at a time until ctx is done.
func (q *Queue) printLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case j := <-q.prints:
			pctx, cancel := context.WithTimeout(ctx, q.cfg.PrintTimeout)
			err := q.printer.Print(pctx, j.t)
			cancel()
			r := printResult{err: err}
			if err != nil && j.done != nil {
				sctx, cancel := context.WithTimeout(ctx, q.cfg.PrintTimeout/2)
				r.zh, r.en = q.describePrintFailure(sctx, err)
				cancel()
			}
			q.mu.Lock()
			if err != nil {
				q.log.Warn("ticket not printed: the screen shows the number", "number", j.number, "err", err)
				q.failedLocked(j.number, err, j.kiosk)
			} else {
				q.pstate.OK, q.pstate.Error, q.pstate.Unprinted = true, "", nil
				if j.kiosk && q.kiosk != nil && q.kiosk.Number == j.number {
					q.kiosk.Print = "printed"
				}
			}
			q.republish()
			q.mu.Unlock()
			if j.done != nil {
				j.done <- r // after the board, so whoever is told can read it there too
			}
		}
	}
}

const keepUnprinted = 20

// failedLocked records a print failure; q.mu is held.
func (q *Queue) failedLocked(number string, err error, kiosk bool) {
	if q.pstate.OK || q.pstate.Since.IsZero() {
		q.pstate.Since = q.clock.Now()
	}
	q.pstate.OK, q.pstate.Error = false, err.Error()
	q.pstate.Unprinted = append(q.pstate.Unprinted, number)
	if n := len(q.pstate.Unprinted); n > keepUnprinted {
		q.pstate.Unprinted = q.pstate.Unprinted[n-keepUnprinted:]
	}
	if kiosk && q.kiosk != nil && q.kiosk.Number == number {
		q.kiosk.Print, q.kiosk.PrintError = "failed", fmt.Sprint(err)
	}
}
