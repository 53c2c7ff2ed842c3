package dashboard

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"onepass/sync/wire"
)

// TestTimeline: the kept reports become the parts' first states and their changes, newest first;
// a report that changes nothing adds nothing.
func TestTimeline(t *testing.T) {
	t0 := time.Date(2026, 11, 26, 9, 0, 0, 0, cst)
	rep := func(min int, printer, paper string) wire.Telemetry {
		return wire.Telemetry{At: t0.Add(time.Duration(min) * time.Minute), Paper: paper,
			Parts: []wire.PartHealth{{Part: "reader", State: "ok"}, {Part: "printer", State: printer, Reason: "r-" + printer}}}
	}
	tests := []struct {
		name string
		hist []wire.Telemetry
		want string
	}{
		{"none", nil, ""},
		{"one report", []wire.Telemetry{rep(0, "ok", "ok")}, "0 printer:ok green; 0 reader:ok green; 0 :ok green"},
		{"printer goes down and back, paper low",
			[]wire.Telemetry{rep(0, "ok", "ok"), rep(5, "ok", "ok"), rep(10, "down", "ok"), rep(20, "down", "low"), rep(30, "ok", "low")},
			"30 printer:down>ok green; 20 :ok>low amber; 10 printer:ok>down red; 0 printer:ok green; 0 reader:ok green; 0 :ok green"},
		{"a part appears", []wire.Telemetry{rep(0, "ok", "none"), {At: t0.Add(time.Minute), Paper: "none",
			Parts: []wire.PartHealth{{Part: "reader", State: "ok"}, {Part: "printer", State: "ok"}, {Part: "camera", State: "degraded"}}}},
			"1 camera:degraded amber; 0 printer:ok green; 0 reader:ok green; 0 :none grey"},
	}
	for _, tc := range tests {
		var got []string
		for _, c := range timeline(tc.hist) {
			s := fmt.Sprintf("%d %s:", int(c.At.Sub(t0)/time.Minute), c.Part)
			if c.From != "" {
				s += c.From + ">"
			}
			got = append(got, s+c.To+" "+c.Colour)
		}
		if g := strings.Join(got, "; "); g != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", tc.name, g, tc.want)
		}
	}
}

// TestKioskPage: a kiosk's page shows its latest report in full and its day's history; an
// unknown kiosk is a 404, and the page needs a session.
func TestKioskPage(t *testing.T) {
	f := newFixture(t, Options{})
	ids := seedFleet(t, f)
	c := f.client(t)
	if resp, _ := f.get(t, c, "/admin/kiosk?id="+ids["k2"]); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("kiosk page without a session: %d", resp.StatusCode)
	}
	if resp, _ := f.post(t, c, "/admin/login", login("li.ming", "correct horse battery"), f.url); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("login: %d", resp.StatusCode)
	}
	if _, fleet := f.get(t, c, "/admin/"); !strings.Contains(fleet, `href="/admin/kiosk?id=`+ids["k2"]+`"`) {
		t.Error("no link from the fleet to k2's page")
	}
	resp, page := f.get(t, c, "/admin/kiosk?id="+ids["k2"]+"&lang=en")
	if resp.StatusCode != 200 {
		t.Fatalf("kiosk page: %d", resp.StatusCode)
	}
	for _, want := range []string{
		`id="kiosk-id">` + ids["k2"] + `<`,
		`data-part="printer" data-state="down" data-colour="red"`,
		`<td class="reason">no answer on /dev/onepass-printer</td>`,
		`<td class="since">2026-11-26 17:00:00</td>`,
		`id="version">1.4.0<`, `id="uptime">1h00m<`, `id="replica">20s<`, `id="skew" data-known="true">&#43;0.0s<`, `id="paper">ok<`, `id="outbox">0<`,
		`data-problem="p_part_down">part down<`,
		`<tr class="change red" data-part="printer" data-to="down"><td>2026-11-26 18:00:00</td>`,
		`ok → <span class="part red">down</span>`,
		`<tr class="change green" data-part="printer" data-to="ok"><td>2026-11-26 17:30:00</td>`,
		`data-values="[3,0]"`, `data-labels="[&#34;17:30&#34;,&#34;18:00&#34;]"`,
		`Last 24 hours`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("kiosk page lacks %s", want)
		}
	}
	if resp, page := f.get(t, c, "/admin/kiosk?id=no-such-kiosk"); resp.StatusCode != http.StatusNotFound || !strings.Contains(page, "No kiosk no-such-kiosk") {
		t.Errorf("unknown kiosk: %d", resp.StatusCode)
	}
	// Reports older than a day are not on the page.
	f.clock.Add(25 * time.Hour)
	f.post(t, c, "/admin/login", login("li.ming", "correct horse battery"), f.url) // the session idled out
	if _, page := f.get(t, c, "/admin/kiosk?id="+ids["k2"]); !strings.Contains(page, `id="no-history"`) {
		t.Error("a day-old history is still shown")
	}
}

// TestSkewUnknown: a kiosk that has not measured its clock skew shows "—", on the fleet and its
// own page, not "+0.0s"; one that has shows its skew.
func TestSkewUnknown(t *testing.T) {
	f := newFixture(t, Options{})
	ids := seedFleet(t, f)
	c := f.client(t)
	f.post(t, c, "/admin/login", login("li.ming", "correct horse battery"), f.url)
	_, fleet := f.get(t, c, "/admin/")
	cell := func(id string) string {
		row := fleet[strings.Index(fleet, `data-id="`+id+`"`):]
		row = row[strings.Index(row, `<td class="skew"`):]
		return row[:strings.Index(row, "</td>")]
	}
	if got := cell(ids["k4"]); got != `<td class="skew" data-known="false">—` {
		t.Errorf("k4's skew on the fleet: %q", got)
	}
	if got := cell(ids["k1"]); got != `<td class="skew" data-known="true">&#43;0.0s` {
		t.Errorf("k1's skew on the fleet: %q", got)
	}
	if _, page := f.get(t, c, "/admin/kiosk?id="+ids["k4"]); !strings.Contains(page, `<td id="skew" data-known="false">—</td>`) {
		t.Error("k4's page shows a skew it never measured")
	}
}
