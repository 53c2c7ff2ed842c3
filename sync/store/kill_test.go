package store

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
)

// childEnv switches the test binary into the appender child of TestKill9.
const childEnv = "ONEPASS_STORE_KILL_CHILD"

func TestMain(m *testing.M) {
	if path := os.Getenv(childEnv); path != "" {
		os.Exit(appendForever(path))
	}
	os.Exit(m.Run())
}

// appendForever appends visits until killed, printing each ID only after
// Append returned: a printed ID is a promise that the visit is durable.
func appendForever(path string) int {
	ctx := context.Background()
	s, err := Open(ctx, path)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	for i := 0; ; i++ {
		v := &Visit{Lane: "A", Method: "card", PersonKey: key(i), SealedID: bytes.Repeat([]byte{byte(i)}, 64),
			MaskedName: "王*", TempC: ptr(36.6), Outcome: "PASS"}
		if err := s.Append(ctx, v); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
		// One write(2) per line: pipe writes this small are atomic, so a
		// kill never leaves half an ID.
		if _, err := os.Stdout.WriteString(v.ID + "\n"); err != nil {
			return 2
		}
	}
}

// TestKill9 kills an appending child process with SIGKILL at a random point
// and checks that every visit it reported as appended survived, in both
// visits and outbox, and that the file is intact. This covers process
// crashes; surviving power loss additionally rests on synchronous=FULL
// (fsync at commit), which a test cannot cut power to verify.
func TestKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns child processes")
	}
	const rounds = 3
	for round := range rounds {
		path := filepath.Join(t.TempDir(), "onepass.db")
		killAfter := 500 + rand.IntN(2500)

		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), childEnv+"="+path)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Bound the round's time on a slow disk: kill at the count or at
		// the deadline, whichever comes first.
		timer := time.AfterFunc(4*time.Second, func() { cmd.Process.Kill() })

		var ids []string
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if _, err := uuid.Parse(sc.Text()); err != nil {
				t.Fatalf("round %d: child printed %q", round, sc.Text())
			}
			ids = append(ids, sc.Text())
			if len(ids) == killAfter {
				cmd.Process.Kill() // SIGKILL
			}
		}
		// Lines still in the pipe after the kill were printed after their
		// Append returned, so they count too; the loop read them to EOF.
		timer.Stop()
		err = cmd.Wait()
		ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus)
		if !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
			t.Fatalf("round %d: child did not die by SIGKILL: %v\n%s", round, err, stderr.Bytes())
		}
		if len(ids) == 0 {
			t.Fatalf("round %d: child appended nothing before the deadline\n%s", round, stderr.Bytes())
		}

		checkSurvivors(t, path, ids)
		t.Logf("round %d: killed after %d reported appends (target %d)", round, len(ids), killAfter)
	}
}

func checkSurvivors(t *testing.T, path string, ids []string) {
	t.Helper()
	ctx := context.Background()
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.IntegrityCheck(ctx); err != nil {
		t.Fatal(err)
	}

	// Visits and outbox are written in one transaction: same count.
	var nVisits, nOutbox int
	if err := s.r.QueryRowContext(ctx, "SELECT (SELECT count(*) FROM visits), (SELECT count(*) FROM outbox)").
		Scan(&nVisits, &nOutbox); err != nil {
		t.Fatal(err)
	}
	if nVisits != nOutbox || nVisits < len(ids) {
		t.Fatalf("visits %d, outbox %d, reported appends %d", nVisits, nOutbox, len(ids))
	}

	pending, err := s.Pending(ctx, nOutbox)
	if err != nil {
		t.Fatal(err)
	}
	inOutbox := make(map[string]bool, len(pending))
	for _, v := range pending {
		inOutbox[v.ID] = true
	}
	var missing []string
	for _, id := range ids {
		u := uuid.MustParse(id)
		var one int
		err := s.r.QueryRowContext(ctx, "SELECT 1 FROM visits WHERE id = ?", u[:]).Scan(&one)
		if err != nil || !inOutbox[id] {
			missing = append(missing, id)
		}
	}
	if len(missing) > 0 {
		t.Fatalf("%d of %d reported visits lost, e.g. %s", len(missing), len(ids), missing[0])
	}
	// Append order is preserved too.
	for i, id := range ids {
		if pending[i].ID != id {
			t.Fatalf("outbox[%d] = %s, child appended %s", i, pending[i].ID, id)
		}
	}
}
