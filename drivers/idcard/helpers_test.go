package idcard_test

import (
	"bytes"
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"go.bug.st/serial"

	"onepass/device"
	"onepass/drivers/idcard"
	"onepass/drivers/idcard/idcardsim"
)

// Fixture cards, one per layout (specs/idcard-ga467.md §9.2).
var (
	resident = device.Card{Type: device.CardResident, Name: "张三", Sex: "男", Nation: "汉", Birth: "19900307",
		Address: "北京市东城区景山前街4号", Number: "110101199003074477", Issuer: "北京市公安局东城分局",
		ValidFrom: "20200101", ValidTo: "20400101"}
	residentPermanent = device.Card{Type: device.CardResident, Name: "王五", Sex: "女", Nation: "德昂", Birth: "19491231",
		Address: "北京市朝阳区", Number: "11010519491231002X", Issuer: "北京市公安局朝阳分局",
		ValidFrom: "20100101", ValidTo: "长期"}
	foreigner2017 = device.Card{Type: device.CardForeigner, Name: "SMITH, JOHN PAUL", NameChinese: "史密斯", Sex: "男",
		Nation: "USA", Birth: "19800101", Number: "USA110080010112", Issuer: "1100", ValidFrom: "20170101", ValidTo: "20270101"}
	foreigner2023 = device.Card{Type: device.CardForeigner, Name: "ZHENGJIAN, YANGBEN", NameChinese: "证件样本", Sex: "女",
		Nation: "PAK", Birth: "19800101", Number: "931586198001010028", ValidFrom: "20230808", ValidTo: "20330807"}
	hkmotw = device.Card{Type: device.CardHKMOTW, Name: "陈大文", Sex: "男", Birth: "19900101", Address: "广东省深圳市福田区",
		Number: "810000199001010019", Issuer: "深圳市公安局", ValidFrom: "20190101", ValidTo: "20240101"}
)

// rig is a simulated reader on a pseudo-terminal with the real driver on its tty.
type rig struct {
	t    *testing.T
	sim  *idcardsim.Sim
	pty  *idcardsim.PTY
	r    *idcard.Reader
	logs *syncBuffer
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func startSim(t *testing.T, opts idcardsim.Options) (*idcardsim.Sim, *idcardsim.PTY) {
	t.Helper()
	s := idcardsim.New(opts)
	p, err := s.OpenPTY()
	if err != nil {
		t.Fatalf("open pty: %v", err)
	}
	t.Cleanup(func() { p.Close() })
	return s, p
}

// newRig starts a simulator and a Reader polling it every 5 ms, logging at debug level.
func newRig(t *testing.T, simOpts idcardsim.Options, opts idcard.Options) *rig {
	t.Helper()
	s, p := startSim(t, simOpts)
	logs := &syncBuffer{}
	if opts.Port == "" {
		opts.Port = p.Path()
	}
	if opts.PollInterval == 0 {
		opts.PollInterval = 5 * time.Millisecond
	}
	opts.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	r, err := idcard.Open(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		r.Close()
		if t.Failed() {
			t.Logf("reader log:\n%s", logs)
		}
	})
	return &rig{t: t, sim: s, pty: p, r: r, logs: logs}
}

// next waits for the next card (the deadline only guards against a hung test).
func (g *rig) next() device.Card {
	g.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := g.r.Next(ctx)
	if err != nil {
		g.t.Fatalf("Next: %v", err)
	}
	return c
}

// waitFor polls cond until it holds (the deadline only guards against a hung test).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// openConn opens the pty through go.bug.st/serial, as the driver does.
func openConn(t *testing.T, path string) *idcard.Conn {
	t.Helper()
	p, err := serial.Open(path, &serial.Mode{BaudRate: 115200, DataBits: 8, Parity: serial.NoParity, StopBits: serial.OneStopBit})
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	c := idcard.NewConn(p)
	t.Cleanup(func() { c.Close() })
	return c
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}
