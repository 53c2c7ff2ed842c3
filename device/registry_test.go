package device

import (
	"context"
	"strings"
	"testing"
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
