package device

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

type fakeReader struct{ port string }

func (f *fakeReader) Health() Health                     { return Health{State: OK} }
func (f *fakeReader) SelfTest(context.Context) error     { return nil }
func (f *fakeReader) Close() error                       { return nil }
func (f *fakeReader) Next(context.Context) (Card, error) { return Card{}, nil }

func TestRegistry(t *testing.T) {
	r := &registry[CardReader]{kind: "reader"}
	r.register("fake", func(ctx context.Context, p Params) (CardReader, error) {
		var conf struct {
			Port string `json:"port"`
			Baud int    `json:"baud"`
		}
		if err := p.Decode(&conf); err != nil {
			return nil, err
		}
		return &fakeReader{port: conf.Port}, nil
	})
	part, err := r.open(context.Background(), "fake", Params{"port": "/dev/ttyUSB0", "baud": int64(115200)})
	if err != nil || part.(*fakeReader).port != "/dev/ttyUSB0" {
		t.Fatalf("open: %v, %v", part, err)
	}
	tests := []struct {
		name, driver string
		p            Params
		errHas       string
	}{
		{"unknown driver", "nope", nil, `unknown reader driver "nope" (known: fake)`},
		{"unknown key", "fake", Params{"prot": "x"}, `unknown key "prot"`},
		{"bad value", "fake", Params{"baud": "fast"}, "bad value"},
	}
	for _, tt := range tests {
		if _, err := r.open(context.Background(), tt.driver, tt.p); err == nil || !strings.Contains(err.Error(), tt.errHas) {
			t.Errorf("%s: error %v, want %q", tt.name, err, tt.errHas)
		}
	}
	if names := r.names(); len(names) != 1 || names[0] != "fake" {
		t.Errorf("names: %v", names)
	}
	defer func() {
		if recover() == nil {
			t.Error("a duplicate name did not panic")
		}
	}()
	r.register("fake", func(context.Context, Params) (CardReader, error) { return nil, nil })
}

func TestHealth(t *testing.T) {
	if s := (Health{State: Down, Reason: "port gone"}).String(); s != "down: port gone" {
		t.Errorf("String = %q", s)
	}
	for st, want := range map[HealthState]float64{OK: 1, Degraded: 0.5, Down: 0, NotConfigured: -1} {
		if st.Score() != want {
			t.Errorf("%s score %v", st, st.Score())
		}
	}
}

// TestParamsDuration: a duration parameter is parsed once, by Params.Decode, and a bad one names
// its key; an absent optional one stays nil so the driver can tell "absent" from "0".
func TestParamsDuration(t *testing.T) {
	type conf struct {
		Port string    `json:"port"`
		Hold Duration  `json:"hold"`
		Poll *Duration `json:"poll"`
	}
	tests := []struct {
		name     string
		p        Params
		hold     time.Duration
		poll     time.Duration // Poll.Or(-1): -1 when absent
		errHas   string
		errHasTo string
	}{
		{name: "absent", p: Params{"port": "x"}, poll: -1},
		{name: "both", p: Params{"hold": "1s", "poll": "250ms"}, hold: time.Second, poll: 250 * time.Millisecond},
		{name: "zero means off, not absent", p: Params{"poll": "0"}, poll: 0},
		{name: "compound", p: Params{"hold": "1m30s"}, hold: 90 * time.Second, poll: -1},
		{name: "null is absent", p: Params{"poll": nil}, poll: -1},
		{name: "no unit", p: Params{"port": "x", "hold": "5"}, errHas: `bad value for key "hold"`, errHasTo: `"5" is not a duration`},
		{name: "word", p: Params{"poll": "soon"}, errHas: `bad value for key "poll"`, errHasTo: `"soon" is not a duration`},
		{name: "number", p: Params{"hold": int64(5)}, errHas: `bad value for key "hold"`, errHasTo: "want a string"},
		{name: "other key still named", p: Params{"hold": "1s", "port": 7}, errHas: `bad value for key "port"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c conf
			err := tt.p.Decode(&c)
			if tt.errHas != "" {
				if err == nil || !strings.Contains(err.Error(), tt.errHas) || !strings.Contains(err.Error(), tt.errHasTo) {
					t.Fatalf("error %v, want %q and %q", err, tt.errHas, tt.errHasTo)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.Hold.Duration != tt.hold || c.Poll.Or(-1) != tt.poll {
				t.Errorf("hold %v poll %v, want %v %v", c.Hold, c.Poll.Or(-1), tt.hold, tt.poll)
			}
		})
	}
	if b, err := json.Marshal(Duration{1500 * time.Millisecond}); err != nil || string(b) != `"1.5s"` {
		t.Errorf("marshal: %s %v", b, err)
	}
}
