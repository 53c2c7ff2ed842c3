package ui

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// TestLockoutHoldsUnderConcurrentGuesses: PIN guesses sent all at once are counted before the slow
// hash check, so no more than the limit are ever checked.
func TestLockoutHoldsUnderConcurrentGuesses(t *testing.T) {
	hash, err := bcrypt.GenerateFromPassword([]byte("2468"), bcrypt.DefaultCost)
	if err != nil {
		t.Fatal(err)
	}
	a := newStaffAuth(StaffOptions{LockoutAfter: 5, Users: []StaffUser{{ID: "7", Name: "王芳", PINHash: string(hash)}}})
	codes := make(chan int, 40)
	var wg sync.WaitGroup
	for i := range 40 {
		wg.Go(func() {
			// Different addresses, so only the per-staff limit applies.
			_, code, _ := a.login("7", "0000", "", "10.0.0."+string(rune('a'+i%26)))
			codes <- code
		})
	}
	wg.Wait()
	close(codes)
	checked := 0
	for c := range codes {
		switch c {
		case http.StatusUnauthorized:
			checked++
		case http.StatusTooManyRequests:
		default:
			t.Fatalf("unexpected answer %d", c)
		}
	}
	if checked > 4 {
		t.Fatalf("%d wrong PINs were checked and answered 401, the limit is 5 attempts", checked)
	}
	if _, code, _ := a.login("7", "2468", "", "10.0.0.99"); code != http.StatusTooManyRequests {
		t.Fatalf("the right PIN during the lock-out: %d", code)
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

func TestLoginTablesStaySmall(t *testing.T) {
	now := time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)
	hash, _ := bcrypt.GenerateFromPassword([]byte("2468"), bcrypt.MinCost)
	a := newStaffAuth(StaffOptions{LockoutAfter: 5, LockoutFor: time.Minute, SessionIdle: time.Minute,
		Now: func() time.Time { return now }, Users: []StaffUser{{ID: "7", PINHash: string(hash)}}})
	for i := range 50 {
		a.login(fmt.Sprintf("nobody-%d", i), "0000", "", "10.0.0.1")
	}
	if _, _, err := a.login("7", "2468", "", "10.0.0.2"); err != nil {
		t.Fatalf("login: %+v", err)
	}
	if n := len(a.fails); n > 3 { // id:?, and one per address
		t.Errorf("%d lock-out entries after guesses at 50 unknown IDs from one address", n)
	}
	now = now.Add(2 * time.Minute)
	a.login("7", "0000", "", "10.0.0.3")
	if len(a.sessions) != 0 {
		t.Errorf("idle session kept: %d", len(a.sessions))
	}
	if _, ok := a.fails["id:?"]; ok {
		t.Error("an expired lock-out was kept")
	}
}
