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
	kiosk  bool // the citizen's screen follows this print
}

// enqueuePrint hands a new ticket to the printer and, for a kiosk ticket, makes it the one the
// citizen's screen shows. It reports whether the ticket was queued for printing: with no printer
// or a full print queue the number is still shown, and the board lists it as unprinted.
func (q *Queue) enqueuePrint(is Issued, passID string, kiosk bool) bool {
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
	switch {
	case q.printer == nil:
		if kiosk {
			q.kiosk.Print = "off"
		}
	default:
		select {
		case q.prints <- printJob{t: dt, number: t.Number, kiosk: kiosk}:
			queued = true
		default:
			q.failedLocked(t.Number, errors.New("print queue full"), kiosk)
		}
	}
	q.republish()
	return queued
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
