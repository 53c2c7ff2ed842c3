package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"onepass/ui/api"
)

func queueCommand(ctx context.Context, c *api.Client, args []string, stdout io.Writer) error {
	if args[0] == "queue" {
		return showQueue(ctx, c, stdout)
	}
	if len(args) < 2 {
		return usageError{Msg: "ticket: which? issue, call, recall, served, no-show, transfer, checkin"}
	}
	sub, rest := args[1], args[2:]
	fs := flag.NewFlagSet("ticket "+sub, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	service := fs.String("service", "", "")
	priority := fs.String("priority", "", "")
	counter := fs.String("counter", "", "")
	if err := fs.Parse(rest); err != nil {
		return usageError{Msg: "ticket " + sub + ": " + err.Error()}
	}
	switch sub {
	case "issue":
		if *service == "" {
			return usageError{Msg: "ticket issue needs --service"}
		}
		is, err := c.IssueTicket(ctx, api.IssueRequest{Service: *service, Priority: api.Priority(*priority)})
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s  %s  %d ahead", is.Ticket.Number, is.Ticket.ServiceName, is.Ahead)
		return printOutcome(is, stdout)
	case "call", "recall", "served", "no-show", "transfer":
		if *counter == "" {
			return usageError{Msg: "ticket " + sub + " needs --counter"}
		}
		if sub == "transfer" && *service == "" {
			return usageError{Msg: "ticket transfer needs --service"}
		}
		t, err := c.Counter(ctx, sub, api.CounterRequest{Counter: *counter, Service: *service})
		if err != nil {
			return err
		}
		switch sub {
		case "call", "recall":
			fmt.Fprintf(stdout, "请 %s 号到 %s 号窗口\n", t.Number, t.Counter)
		case "transfer":
			fmt.Fprintf(stdout, "%s → %s (%s), waiting\n", t.Number, t.Service, t.ServiceName)
		default:
			fmt.Fprintf(stdout, "%s %s\n", t.Number, t.State)
		}
		return nil
	case "checkin":
		if fs.NArg() != 1 {
			return usageError{Msg: "ticket checkin needs the appointment code as one argument"}
		}
		is, err := c.CheckIn(ctx, api.CheckInRequest{Code: fs.Arg(0)})
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s  %s  slot %s  %d ahead", is.Ticket.Number, is.Ticket.ServiceName, is.Ticket.Slot.Format("15:04"), is.Ahead)
		return printOutcome(is, stdout)
	}
	return usageError{Msg: fmt.Sprintf("ticket: unknown command %q", sub)}
}

// printOutcome ends the line of an issued ticket with what the printer did. A ticket the printer
// did not print is a failure (exit 1): the number must then be told to the person by word.
func printOutcome(is api.Issued, stdout io.Writer) error {
	switch {
	case is.Printed:
		fmt.Fprintln(stdout, "  (printed)")
	case is.PrintProblem != "" || is.PrintProblemZh != "":
		fmt.Fprintln(stdout, "  (NOT PRINTED: tell the number)")
		return fmt.Errorf("未打印：%s / not printed: %s", is.PrintProblemZh, is.PrintProblem)
	case is.Printing: // a daemon that does not wait for the printer
		fmt.Fprintln(stdout, "  (printing)")
	default:
		fmt.Fprintln(stdout, "  (no printer)")
	}
	return nil
}

func showQueue(ctx context.Context, c *api.Client, stdout io.Writer) error {
	b, err := c.Queue(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "day %s", b.Day)
	if b.Hall != "" {
		fmt.Fprintf(stdout, " — %s", b.Hall)
	}
	fmt.Fprintln(stdout)
	for _, s := range b.Services {
		var next []string
		for _, w := range s.Next {
			next = append(next, w.Number)
		}
		fmt.Fprintf(stdout, "  %s %-8s waiting %3d  issued %3d  next: %s\n", s.Code, s.Name, s.Waiting, s.Issued, strings.Join(next, " "))
	}
	for _, k := range b.Counters {
		cur := "—"
		if k.Current != nil {
			cur = k.Current.Number
		}
		fmt.Fprintf(stdout, "  counter %-3s (%s): %s\n", k.ID, strings.Join(k.Services, ","), cur)
	}
	for _, call := range b.Calls {
		fmt.Fprintf(stdout, "  called %s → %s at %s\n", call.Number, call.Counter, call.At.Local().Format("15:04:05"))
	}
	switch {
	case !b.Printer.Configured:
		fmt.Fprintln(stdout, "  printer: none")
	case b.Printer.OK:
		fmt.Fprintln(stdout, "  printer: ok")
	default:
		fmt.Fprintf(stdout, "  printer: FAILING (%s); not printed: %s\n", b.Printer.Error, strings.Join(b.Printer.Unprinted, " "))
		return errors.New("the ticket printer is failing")
	}
	return nil
}

func simQueueCommand(ctx context.Context, c *api.Client, args []string, stdout io.Writer) error {
	switch args[0] {
	case "appointment":
		fs := flag.NewFlagSet("sim appointment", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		service := fs.String("service", "", "")
		in := fs.String("in", "", "")
		ref := fs.String("ref", "", "")
		if err := fs.Parse(args[1:]); err != nil || *service == "" {
			return usageError{Msg: "sim appointment needs --service"}
		}
		out, err := c.SimAppointment(ctx, api.AppointmentRequest{Service: *service, In: *in, Ref: *ref})
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, out.Code)
		return nil
	case "printer":
		if len(args) != 3 {
			return usageError{Msg: "sim printer paper ok|near_end|out, cover open|closed, or mute on|off"}
		}
		var pc api.PrinterControl
		switch args[1] {
		case "paper":
			pc.Paper = args[2]
		case "cover":
			pc.Cover = args[2]
		case "mute":
			on := args[2] == "on"
			pc.Mute = &on
		default:
			return usageError{Msg: fmt.Sprintf("sim printer: unknown setting %q", args[1])}
		}
		return c.SimPrinterControl(ctx, pc)
	}
	return usageError{Msg: fmt.Sprintf("sim: unknown command %q", args[0])}
}
