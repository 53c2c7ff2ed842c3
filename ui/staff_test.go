package ui

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// TestLockoutHoldsUnderConcurrentGuesses: PIN guesses sent all at once are counted before the slow
// hash check, so no more than the limit are ever checked against the real PIN.
func TestLockoutHoldsUnderConcurrentGuesses(t *testing.T) {
	hash, err := bcrypt.GenerateFromPassword([]byte("2468"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	a := newStaffAuth(StaffOptions{LockoutAfter: 5, Users: []StaffUser{{ID: "7", Name: "王芳", PINHash: string(hash)}}}, quiet())
	var real atomic.Int32
	a.compare = func(h, pin []byte) error {
		if string(h) == string(hash) {
			real.Add(1)
		}
		return bcrypt.CompareHashAndPassword(h, pin)
	}
	codes := make(chan int, 40)
	var wg sync.WaitGroup
	for i := range 40 {
		wg.Go(func() {
			// Different addresses, so only the per-staff limit applies.
			codes <- a.login(context.Background(), "7", "0000", "", fmt.Sprintf("10.0.0.%d", i)).code
		})
	}
	wg.Wait()
	close(codes)
	for c := range codes {
		if c != http.StatusUnauthorized {
			t.Fatalf("unexpected answer %d", c)
		}
	}
	if n := real.Load(); n > 5 {
		t.Fatalf("%d wrong PINs were checked against the real hash, the limit is 5 attempts", n)
	}
	if ans := a.login(context.Background(), "7", "2468", "", "10.0.0.99"); ans.code != http.StatusUnauthorized {
		t.Fatalf("the right PIN during the lock-out: %d", ans.code)
	}
}

// memAttempts is an in-memory LoginAttempts: the "database" a restarted staffAuth reads back.
type memAttempts struct {
	mu   sync.Mutex
	rows map[string]LoginAttempt
}

func (m *memAttempts) LoadLoginAttempts(context.Context) ([]LoginAttempt, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []LoginAttempt
	for _, r := range m.rows {
		out = append(out, r)
	}
	return out, nil
}

func (m *memAttempts) SaveLoginAttempts(_ context.Context, put []LoginAttempt, del []string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.rows == nil {
		m.rows = map[string]LoginAttempt{}
	}
	for _, k := range del {
		delete(m.rows, k)
	}
	for _, r := range put {
		m.rows[r.Key] = r
	}
	return nil
}

func (m *memAttempts) len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.rows)
}

// loginRig is a staffAuth on a fake clock over a stored table; restart makes a new one over the
// same table, as a restarted daemon over the same database.
type loginRig struct {
	t     *testing.T
	now   time.Time
	db    *memAttempts
	a     *staffAuth
	users []StaffUser
	after int
}

func newLoginRig(t *testing.T, after int) *loginRig {
	hash, _ := bcrypt.GenerateFromPassword([]byte("2468"), bcrypt.MinCost)
	r := &loginRig{t: t, now: time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC), db: &memAttempts{}, after: after,
		users: []StaffUser{{ID: "7", Name: "王芳", Counter: "1", PINHash: string(hash)}, {ID: "8", Name: "李雷", Counter: "3", PINHash: string(hash)}}}
	r.restart()
	return r
}

func (r *loginRig) restart() {
	r.a = newStaffAuth(StaffOptions{Users: r.users, LockoutAfter: r.after, LockoutFor: 5 * time.Minute,
		Now: func() time.Time { return r.now }, Attempts: r.db}, quiet())
}

// try logs in, first waiting out the address's delay, so only the lock-outs decide.
func (r *loginRig) try(id, pin, ip string) loginAnswer {
	ans := r.a.login(context.Background(), id, pin, "", ip)
	if ans.code == http.StatusTooManyRequests {
		r.now = r.now.Add(ans.wait)
		ans = r.a.login(context.Background(), id, pin, "", ip)
	}
	return ans
}

func answerText(ans loginAnswer) string {
	b, _ := json.Marshal(ans.err)
	return fmt.Sprintf("%d %s", ans.code, b)
}

// Every refusal reads the same: a wrong PIN for a real ID, an unknown ID, a locked real ID, a
// locked unknown ID and a locked address, before and after a restart.
func TestEveryRefusalReadsTheSame(t *testing.T) {
	r := newLoginRig(t, 3)
	want := answerText(r.try("7", "0000", "10.0.0.1"))
	if !strings.HasPrefix(want, "401 ") || strings.Contains(want, "left") || !strings.Contains(want, "连续错误 3 次锁定 5 分钟") {
		t.Fatalf("refusal: %s", want)
	}
	check := func(what string, ans loginAnswer) {
		t.Helper()
		if got := answerText(ans); got != want {
			t.Errorf("%s:\n got  %s\n want %s", what, got, want)
		}
	}
	for i := range 2 {
		check(fmt.Sprintf("wrong PIN %d for staff 7", i+2), r.try("7", "0000", "10.0.0.1"))
	}
	check("right PIN for locked staff 7", r.try("7", "2468", "10.0.0.2"))
	for i := range 3 {
		check(fmt.Sprintf("unknown ID, try %d", i+1), r.try("9999", "0000", "10.0.0.3"))
	}
	check("unknown ID, locked", r.try("9999", "2468", "10.0.0.4"))
	// An address that failed 3×3 times is locked for any ID, a known one with its right PIN too.
	for i := range 9 {
		r.try(fmt.Sprintf("x%d", i), "0000", "10.0.0.5")
	}
	check("locked address, staff 8 with the right PIN", r.try("8", "2468", "10.0.0.5"))
	r.restart()
	check("right PIN for locked staff 7 after a restart", r.try("7", "2468", "10.0.0.6"))
	check("unknown ID locked after a restart", r.try("9999", "2468", "10.0.0.6"))
	check("fresh unknown ID after a restart", r.try("1234", "0000", "10.0.0.7"))
	check("wrong PIN after a restart", r.try("7", "0000", "10.0.0.7"))
}

// An unknown ID is counted and locked exactly like a real one: the answers to the same tries are
// the same, and so are the counters behind them, across a restart.
func TestUnknownIDLocksLikeARealOne(t *testing.T) {
	run := func(id string) (answers []string, stored []LoginAttempt) {
		r := newLoginRig(t, 3)
		for i := range 5 {
			if i == 2 {
				r.restart()
			}
			answers = append(answers, answerText(r.try(id, "0000", fmt.Sprintf("10.0.1.%d", i))))
		}
		r.restart()
		// The right PIN of staff 7 during the lock-out.
		answers = append(answers, answerText(r.try(id, "2468", "10.0.1.9")))
		if f := r.a.fails[idKey(id)]; f != nil {
			stored = append(stored, LoginAttempt{Failed: f.Failed, Until: f.Until})
		}
		return answers, stored
	}
	real, realRows := run("7")
	unknown, unknownRows := run("9999")
	if !reflect.DeepEqual(real, unknown) {
		t.Errorf("answers differ:\n real    %q\n unknown %q", real, unknown)
	}
	if !reflect.DeepEqual(realRows, unknownRows) || len(realRows) != 1 || realRows[0].Until.IsZero() {
		t.Errorf("counters differ or nothing locked: real %+v, unknown %+v", realRows, unknownRows)
	}
}

// A locked ID stays locked after a restart until its time, then logs in.
func TestLockoutSurvivesRestart(t *testing.T) {
	r := newLoginRig(t, 3)
	for range 3 {
		r.try("7", "0000", "10.0.0.1")
	}
	r.restart()
	if ans := r.try("7", "2468", "10.0.0.2"); ans.code != http.StatusUnauthorized {
		t.Fatalf("the right PIN right after a restart: %d", ans.code)
	}
	r.now = r.now.Add(5*time.Minute + time.Second)
	r.restart()
	if ans := r.try("7", "2468", "10.0.0.2"); ans.code != http.StatusOK {
		t.Fatalf("the right PIN after the lock-out: %s", answerText(ans))
	}
	if n := r.db.len(); n != 0 {
		t.Errorf("%d rows left after a clean login: %+v", n, r.db.rows)
	}
}

func TestLoginDelay(t *testing.T) {
	for streak, want := range map[int]time.Duration{-1: 0, 0: 0, 1: time.Second, 2: 2 * time.Second, 3: 4 * time.Second,
		5: 16 * time.Second, 6: 30 * time.Second, 7: 30 * time.Second, 64: 30 * time.Second, 1 << 40: 30 * time.Second} {
		if got := loginDelay(streak); got != want {
			t.Errorf("loginDelay(%d) = %s, want %s", streak, got, want)
		}
	}
}

// Each failure in a row from one address makes its next answer wait longer (429 with the wait
// meanwhile, nothing checked); success ends the run; another address is not held up; the run
// survives a restart.
func TestDelayGrowsPerAddress(t *testing.T) {
	r := newLoginRig(t, 20)
	a := func(id, pin, ip string) loginAnswer { return r.a.login(context.Background(), id, pin, "", ip) }
	for i, want := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second} {
		if ans := a("7", "0000", "10.0.0.1"); ans.code != http.StatusUnauthorized {
			t.Fatalf("failure %d: %s", i+1, answerText(ans))
		}
		ans := a("7", "2468", "10.0.0.1") // too soon: even the right PIN waits
		if ans.code != http.StatusTooManyRequests || ans.wait != want || ans.err.Code != "slow_down" ||
			ans.err.Zh != fmt.Sprintf("登录失败次数过多，请 %d 秒后再试", int(want.Seconds())) {
			t.Fatalf("after %d failures: %s, wait %s; want 429 for %s", i+1, answerText(ans), ans.wait, want)
		}
		if i == 2 {
			r.restart()
		}
		// Another address is not held up.
		if ans := a("8", "0000", fmt.Sprintf("10.0.9.%d", i)); ans.code != http.StatusUnauthorized {
			t.Fatalf("another address during the delay: %s", answerText(ans))
		}
		r.now = r.now.Add(want - time.Millisecond)
		if ans := a("7", "0000", "10.0.0.1"); ans.code != http.StatusTooManyRequests || ans.wait != time.Millisecond {
			t.Fatalf("a millisecond early: %s, wait %s", answerText(ans), ans.wait)
		}
		r.now = r.now.Add(time.Millisecond)
	}
	if ans := a("7", "2468", "10.0.0.1"); ans.code != http.StatusOK {
		t.Fatalf("the right PIN after the wait: %s", answerText(ans))
	}
	// The run starts again from 1 s.
	a("7", "0000", "10.0.0.1")
	if ans := a("7", "0000", "10.0.0.1"); ans.wait != time.Second {
		t.Fatalf("after a success the delay is %s, want 1s", ans.wait)
	}
}

// The counters stay bounded: guesses at many made-up IDs fill at most maxLoginKeys rows, a real
// ID's running lock-out is not pushed out by them, and idle counters go after lockout_for.
func TestLoginTablesStaySmall(t *testing.T) {
	r := newLoginRig(t, 5)
	for range 5 {
		r.try("7", "0000", "10.0.0.1")
	}
	for i := range maxLoginKeys + 50 {
		r.now = r.now.Add(10 * time.Millisecond)
		r.try(fmt.Sprintf("n%d", i), "0000", fmt.Sprintf("10.1.%d.%d", i/200, i%200))
	}
	if n, m := len(r.a.fails), r.db.len(); n > maxLoginKeys || m > maxLoginKeys {
		t.Errorf("%d counters in memory, %d stored, after guesses at %d made-up IDs", n, m, maxLoginKeys+50)
	}
	if ans := r.try("7", "2468", "10.0.0.2"); ans.code != http.StatusUnauthorized {
		t.Fatalf("the flood pushed out staff 7's lock-out: %s", answerText(ans))
	}
	r.now = r.now.Add(6 * time.Minute)
	if ans := r.try("7", "2468", "10.0.0.3"); ans.code != http.StatusOK {
		t.Fatalf("login after the lock-out: %s", answerText(ans))
	}
	if n, m := len(r.a.fails), r.db.len(); n != 0 || m != 0 {
		t.Errorf("%d counters in memory, %d stored after lockout_for without failures", n, m)
	}
	r.a.o.SessionIdle = time.Minute
	r.now = r.now.Add(2 * time.Minute)
	if ans := r.try("7", "2468", "10.0.0.4"); ans.code != http.StatusOK {
		t.Fatalf("login: %s", answerText(ans))
	}
	if len(r.a.sessions) != 1 {
		t.Errorf("idle session kept: %d sessions", len(r.a.sessions))
	}
}

// A typed personal ID number never reaches the stored table: it is kept as a small hash bucket.
func TestIDNumberNotStored(t *testing.T) {
	for id, raw := range map[string]bool{"7": true, "demo": true, "A-12_x": true, "110101199003074477": false,
		"11010119900307447X": false, "110101900307447": false, "12345678901234567890": false, "王芳": false, "a b": false} {
		k := idKey(id)
		if got := k == "id:"+id; got != raw {
			t.Errorf("idKey(%q) = %q", id, k)
		}
		if !raw && (len(k) != len("id:#0000") || strings.Contains(k, id)) {
			t.Errorf("idKey(%q) = %q, want a 16-bit bucket", id, k)
		}
	}
	r := newLoginRig(t, 3)
	r.try("110101199003074477", "0000", "10.0.0.1")
	for k := range r.db.rows {
		if strings.Contains(k, "1101011990") {
			t.Errorf("stored key %q holds the ID number", k)
		}
	}
}

func TestPlainLAN(t *testing.T) {
	for addr, want := range map[string]bool{"127.0.0.1:5000": false, "[::1]:5000": false, "192.168.1.7:5000": true, "garbage": true} {
		r := httptest.NewRequest("POST", "/staff/api/issue", nil)
		r.RemoteAddr = addr
		if got := plainLAN(r); got != want {
			t.Errorf("plainLAN(%s) = %v, want %v", addr, got, want)
		}
	}
	r := httptest.NewRequest("POST", "https://kiosk/staff/api/issue", nil)
	r.RemoteAddr = "192.168.1.7:5000"
	if plainLAN(r) {
		t.Error("a TLS request counted as plain")
	}
}

// BenchmarkRefusal: a wrong PIN for a real ID and a guess at an unknown one cost the same bcrypt
// work (compare the two ns/op).
func BenchmarkRefusal(b *testing.B) {
	hash, _ := bcrypt.GenerateFromPassword([]byte("2468"), bcrypt.DefaultCost)
	for _, id := range []string{"7", "9999"} {
		b.Run("id="+id, func(b *testing.B) {
			a := newStaffAuth(StaffOptions{LockoutAfter: 20, Users: []StaffUser{{ID: "7", PINHash: string(hash)}}}, quiet())
			for i := 0; b.Loop(); i++ {
				if i%10 == 0 {
					clear(a.fails) // stay below the lock-out: a locked ID is checked against the dummy
				}
				if ans := a.login(context.Background(), id, "0000", "", fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255)); ans.code != http.StatusUnauthorized {
					b.Fatalf("answer %d", ans.code)
				}
			}
		})
	}
}
