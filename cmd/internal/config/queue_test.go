package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

func TestQueueAndStaff(t *testing.T) {
	hash, err := bcrypt.GenerateFromPassword([]byte("2468"), bcrypt.DefaultCost)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	staffFile := filepath.Join(dir, "staff.toml")
	if err := os.WriteFile(staffFile, []byte("[[staff]]\nid = \"8\"\nname = \"李雷\"\npin_hash = \""+string(hash)+"\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	good := `
[queue]
enabled = true
hall = "东城区政务服务中心"
announce_en = true
reset_hour = 5
ticket_url = "https://wx.example.gov.cn/q/{id}"
appointment_keys = ["O2onvM62pC1io6jQKm8Nc2UyFXcd4kOmOsBIoYtZ2ik="]
[[queue.services]]
code = "A"
name = "社保"
[[queue.services]]
code = "B"
name = "医保"
[[queue.counters]]
id = "1"
services = ["A", "B"]
[staff]
listen = "0.0.0.0:8443"
staff_file = "` + staffFile + `"
[[staff.users]]
id = "7"
name = "王芳"
counter = "1"
pin_hash = "` + string(hash) + `"
`
	c := Default()
	if err := c.parse(good); err != nil {
		t.Fatal(err)
	}
	q, err := c.QueueConfig()
	if err != nil || len(q.Services) != 2 || q.Counters[0].ID != "1" || q.ResetHour != 5 || len(q.AppointmentKeys) != 1 || q.Hall != "东城区政务服务中心" || !q.AnnounceEn {
		t.Fatalf("QueueConfig = %+v, %v", q, err)
	}
	if q, _ := Default().QueueConfig(); q.AnnounceEn {
		t.Error("announce_en is on by default; want Chinese only unless the hall asks")
	}
	users, err := c.StaffUsers()
	if err != nil || len(users) != 2 || users[1].ID != "8" {
		t.Fatalf("StaffUsers = %+v, %v", users, err)
	}

	for _, tt := range []struct{ name, text, want string }{
		{"service code", "[queue]\nenabled = true\n[[queue.services]]\ncode = \"a1\"\nname = \"x\"\n", "one capital letter"},
		{"counter of unknown service", "[queue]\nenabled = true\n[[queue.counters]]\nid = \"1\"\nservices = [\"Q\"]\n", `unknown service "Q"`},
		{"reset hour", "[queue]\nreset_hour = 25\n", "reset_hour 25"},
		{"unknown queue key", "[queue]\nresethour = 5\n", "unknown key queue.resethour"},
		{"appointment key", "[queue]\nappointment_keys = [\"abc\"]\n", "appointment_keys[0]"},
		{"plain PIN", "[[staff.users]]\nid = \"7\"\nname = \"x\"\npin_hash = \"1234\"\n", "bcrypt hash"},
		{"staff counter", "[[staff.users]]\nid = \"7\"\nname = \"x\"\ncounter = \"99\"\npin_hash = \"" + string(hash) + "\"\n", `counter "99"`},
		{"duplicate staff", "[[staff.users]]\nid = \"7\"\npin_hash = \"" + string(hash) + "\"\n[[staff.users]]\nid = \"7\"\npin_hash = \"" + string(hash) + "\"\n", "used twice"},
		{"listen", "[staff]\nlisten = \"8443\"\n", "staff.listen"},
		{"host with port", "[staff]\nhosts = [\"kiosk3.hall.local:8443\"]\n", "staff.hosts"},
		{"tls pair", "[staff]\ntls_cert = \"/x.crt\"\n", "tls_key go together"},
		{"lockout", "[staff]\nlockout_after = 0\n", "staff.lockout_after"},
		{"missing staff file", "[staff]\nstaff_file = \"/nonexistent/staff.toml\"\n", "staff file"},
	} {
		c := Default()
		err := c.parse(tt.text)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want %q", tt.name, err, tt.want)
		}
	}
}
