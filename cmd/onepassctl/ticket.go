package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"strings"

	"github.com/BurntSushi/toml"
	"golang.org/x/crypto/bcrypt"

	"onepass/cmd/internal/config"
	"onepass/kiosk/queue"
)

func queueCommand(c *client, args []string, stdout io.Writer) error {
	switch args[0] {
	case "queue":
		return showQueue(c, stdout)
	case "staff":
		if len(args) < 2 || args[1] != "add" {
			return usageError{"staff: the only command is staff add"}
		}
		return staffAdd(args[2:], os.Stdin, stdout)
	}
	if len(args) < 2 {
		return usageError{"ticket: which? issue, call, recall, served, no-show, transfer, checkin"}
	}
	sub, rest := args[1], args[2:]
	fs := flag.NewFlagSet("ticket "+sub, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	service := fs.String("service", "", "")
	priority := fs.String("priority", "", "")
	counter := fs.String("counter", "", "")
	if err := fs.Parse(rest); err != nil {
		return usageError{"ticket " + sub + ": " + err.Error()}
	}
	switch sub {
	case "issue":
		if *service == "" {
			return usageError{"ticket issue needs --service"}
		}
		var is queue.Issued
		if err := c.postJSON("/api/tickets", map[string]string{"service": *service, "priority": *priority}, &is); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s  %s  %d ahead", is.Ticket.Number, is.Ticket.ServiceName, is.Ahead)
		if is.Printing {
			fmt.Fprint(stdout, "  (printing)")
		}
		fmt.Fprintln(stdout)
		return nil
	case "call", "recall", "served", "no-show", "transfer":
		if *counter == "" {
			return usageError{"ticket " + sub + " needs --counter"}
		}
		if sub == "transfer" && *service == "" {
			return usageError{"ticket transfer needs --service"}
		}
		var t queue.Ticket
		if err := c.postJSON("/api/tickets/"+sub, map[string]string{"counter": *counter, "service": *service}, &t); err != nil {
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
			return usageError{"ticket checkin needs the appointment code as one argument"}
		}
		var is queue.Issued
		if err := c.postJSON("/api/tickets/checkin", map[string]string{"code": fs.Arg(0)}, &is); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s  %s  slot %s  %d ahead\n", is.Ticket.Number, is.Ticket.ServiceName, is.Ticket.Slot.Format("15:04"), is.Ahead)
		return nil
	}
	return usageError{fmt.Sprintf("ticket: unknown command %q", sub)}
}

func showQueue(c *client, stdout io.Writer) error {
	var b queue.Board
	if err := c.get("/api/queue", &b); err != nil {
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

var pinRe = regexp.MustCompile(`^[0-9]{4,12}$`)

// staffAdd hashes a PIN read from stdin and writes the staff entry. The PIN is never an
// argument, so it stays out of shell history and the process list.
func staffAdd(args []string, stdin io.Reader, stdout io.Writer) error {
	fs := flag.NewFlagSet("staff add", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	id := fs.String("id", "", "")
	name := fs.String("name", "", "")
	counter := fs.String("counter", "", "")
	file := fs.String("file", "", "")
	if err := fs.Parse(args); err != nil {
		return usageError{"staff add: " + err.Error()}
	}
	if *id == "" || *name == "" {
		return usageError{"staff add needs --id and --name"}
	}
	line, err := bufio.NewReader(stdin).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("read the PIN from stdin: %w", err)
	}
	pin := strings.TrimSpace(line)
	if !pinRe.MatchString(pin) {
		return usageError{"staff add: give the PIN (4–12 digits) on stdin, e.g. read -rs PIN; echo \"$PIN\" | onepassctl staff add …"}
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(pin), bcrypt.DefaultCost)
	if err != nil {
		return fmt.Errorf("hash the PIN: %w", err)
	}
	u := config.StaffUser{ID: *id, Name: *name, Counter: *counter, PINHash: string(hash)}
	var buf bytes.Buffer
	if err := toml.NewEncoder(&buf).Encode(config.StaffFile{Staff: []config.StaffUser{u}}); err != nil {
		return err
	}
	if *file == "" {
		_, err := stdout.Write(buf.Bytes())
		return err
	}
	if existing, err := config.ReadStaffFile(*file); err == nil {
		for _, e := range existing {
			if e.ID == *id {
				return fmt.Errorf("staff %s is already in %s: edit the file to change the PIN", *id, *file)
			}
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return err
	}
	f, err := os.OpenFile(*file, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return err
	}
	if _, err := f.Write(append([]byte("\n"), buf.Bytes()...)); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "staff %s added to %s; restart onepassd to apply\n", *id, *file)
	return nil
}

func simQueueCommand(c *client, args []string, stdout io.Writer) error {
	switch args[0] {
	case "appointment":
		fs := flag.NewFlagSet("sim appointment", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		service := fs.String("service", "", "")
		in := fs.String("in", "", "")
		ref := fs.String("ref", "", "")
		if err := fs.Parse(args[1:]); err != nil || *service == "" {
			return usageError{"sim appointment needs --service"}
		}
		var out struct {
			Code string `json:"code"`
		}
		if err := c.postJSON("/api/sim/appointment", map[string]string{"service": *service, "in": *in, "ref": *ref}, &out); err != nil {
			return err
		}
		fmt.Fprintln(stdout, out.Code)
		return nil
	case "printer":
		if len(args) != 3 {
			return usageError{"sim printer paper ok|near_end|out, cover open|closed, or mute on|off"}
		}
		body := map[string]any{}
		switch args[1] {
		case "paper", "cover":
			body[args[1]] = args[2]
		case "mute":
			body["mute"] = args[2] == "on"
		default:
			return usageError{fmt.Sprintf("sim printer: unknown setting %q", args[1])}
		}
		return c.post("/api/sim/printer", body)
	}
	return usageError{fmt.Sprintf("sim: unknown command %q", args[0])}
}

// postJSON posts body and decodes the answer into out.
func (c *client) postJSON(path string, body, out any) error {
	resp, err := c.do(http.MethodPost, path, body)
	if err != nil {
		var qe queue.Error
		if m := qerrRe.FindStringSubmatch(err.Error()); m != nil && json.Unmarshal([]byte(m[1]), &qe) == nil && qe.Zh != "" {
			return fmt.Errorf("onepassd refused: %s (%s)", qe.Zh, qe.En)
		}
		return err
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("onepassd answered %s with something else than JSON: %w", path, err)
	}
	return nil
}

// qerrRe finds a queue refusal's JSON in the client's error text.
var qerrRe = regexp.MustCompile(`(\{"error":.*\})`)
