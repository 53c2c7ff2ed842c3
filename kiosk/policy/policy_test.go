package policy

import (
	"testing"
	"time"
)

func TestDecide(t *testing.T) {
	t0 := time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC)
	yes, no := true, false
	card := &Card{NumberValid: true}
	fresh := Replica{Found: true, Status: StatusGreen, AsOf: t0, Age: time.Minute}
	normal := Temp{State: TempStable, C: 36.6}
	phone := func(st Status) *Code {
		return &Code{Check: CodeValid, Class: ClassPhone, Status: st, IssuedAt: t0.Add(time.Hour)}
	}
	bad := func(c CodeCheck) *Code { return &Code{Check: c, Class: ClassPhone} }
	printed := &Code{Check: CodeValid, Class: ClassPrinted, Status: StatusGreen, IssuedAt: t0, BindMatches: &yes}

	tests := []struct {
		name string
		p    func(*Policy)
		in   Input
		want Decision
	}{
		{"card green pass", nil, Input{Card: card, Replica: fresh, Temp: normal}, Decision{Pass, ReasonOK}},
		{"fever denies", nil, Input{Card: card, Replica: fresh, Temp: Temp{TempStable, 38.1}}, Decision{Deny, ReasonFever}},
		{"fever at threshold", nil, Input{Card: card, Replica: fresh, Temp: Temp{TempStable, 37.3}}, Decision{Deny, ReasonFever}},
		{"just below threshold", nil, Input{Card: card, Replica: fresh, Temp: Temp{TempStable, 37.2}}, Decision{Pass, ReasonOK}},
		{"37.29 is shown 37.3: a fever", nil, Input{Card: card, Replica: fresh, Temp: Temp{TempStable, 37.29}}, Decision{Deny, ReasonFever}},
		{"37.24 is shown 37.2: no fever", nil, Input{Card: card, Replica: fresh, Temp: Temp{TempStable, 37.24}}, Decision{Pass, ReasonOK}},
		{"configurable threshold", func(p *Policy) { p.FeverC = 37.0 }, Input{Card: card, Replica: fresh, Temp: Temp{TempStable, 37.1}}, Decision{Deny, ReasonFever}},
		{"fever with no identity", nil, Input{Temp: Temp{TempStable, 38.1}}, Decision{Deny, ReasonFever}},
		{"normal temp, no identity: wait", nil, Input{Temp: normal}, Decision{Undecided, ""}},
		{"identity, temp pending: wait", nil, Input{Card: card, Replica: fresh}, Decision{Undecided, ""}},
		{"no stable temperature", nil, Input{Card: card, Replica: fresh, Temp: Temp{State: TempNone}}, Decision{Retry, ReasonNoTemperature}},
		{"out of range remeasure", nil, Input{Card: card, Replica: fresh, Temp: Temp{TempOutOfRange, 44}}, Decision{Retry, ReasonRemeasure}},
		{"red replica", nil, Input{Card: card, Replica: Replica{Found: true, Status: StatusRed, AsOf: t0}, Temp: normal}, Decision{Deny, ReasonStatusRed}},
		{"yellow replica", nil, Input{Card: card, Replica: Replica{Found: true, Status: StatusYellow, AsOf: t0}, Temp: normal}, Decision{Deny, ReasonStatusYellow}},
		{"red phone code", nil, Input{Code: phone(StatusRed), Temp: normal}, Decision{Deny, ReasonStatusRed}},
		{"yellow phone code", nil, Input{Code: phone(StatusYellow), Temp: normal}, Decision{Deny, ReasonStatusYellow}},
		{"green phone code", nil, Input{Code: phone(StatusGreen), Temp: normal}, Decision{Pass, ReasonOK}},
		{"revoked code", nil, Input{Code: bad(CodeRevoked), Temp: normal}, Decision{Deny, ReasonCodeRevoked}},
		{"expired code", nil, Input{Code: bad(CodeExpired)}, Decision{Deny, ReasonCodeExpired}},
		{"not yet valid code", nil, Input{Code: bad(CodeNotYetValid)}, Decision{Deny, ReasonCodeNotYetValid}},
		{"untrusted issuer", nil, Input{Code: bad(CodeUntrusted)}, Decision{Deny, ReasonCodeUntrusted}},
		{"forged signature", nil, Input{Code: bad(CodeForged)}, Decision{Deny, ReasonCodeForged}},
		{"malformed code", nil, Input{Code: bad(CodeMalformed)}, Decision{Deny, ReasonCodeMalformed}},
		{"class not allowed", nil, Input{Code: bad(CodeClassNotAllowed)}, Decision{Deny, ReasonCodeClassNotAllowed}},
		{"code of someone else", nil, Input{Card: card, Replica: fresh, Code: &Code{Check: CodeValid, Class: ClassPrinted, Status: StatusGreen, BindMatches: &no}, Temp: normal}, Decision{Deny, ReasonCodeWrongPerson}},
		{"printed code with matching card", nil, Input{Card: card, Replica: Replica{Age: time.Minute}, Code: printed, Temp: normal}, Decision{Pass, ReasonOK}},
		{"printed code alone", nil, Input{Code: &Code{Check: CodeValid, Class: ClassPrinted, Status: StatusGreen}, Temp: normal}, Decision{Manual, ReasonCodeNeedsCard}},
		{"proxy code alone", nil, Input{Code: &Code{Check: CodeValid, Class: ClassProxy, Status: StatusGreen}}, Decision{Manual, ReasonCodeNeedsCard}},
		{"provincial token", nil, Input{Code: bad(CodeNotOffline), Temp: normal}, Decision{Manual, ReasonCodeNotOffline}},
		{"clock not trusted", nil, Input{Code: bad(CodeTimeUntrusted), Temp: normal}, Decision{Manual, ReasonTimeUntrusted}},
		{"expired card", nil, Input{Card: &Card{NumberValid: true, Expired: true}, Replica: fresh, Temp: normal}, Decision{Deny, ReasonCardExpired}},
		{"invalid id number", nil, Input{Card: &Card{NumberValid: false}}, Decision{Deny, ReasonIDInvalid}},
		{"unknown status, stale replica", nil, Input{Card: card, Replica: Replica{Age: time.Hour}, Temp: normal}, Decision{Manual, ReasonStatusStale}},
		{"unknown status, stale even when green absent", func(p *Policy) { p.AbsentStatus = AbsentGreen }, Input{Card: card, Replica: Replica{Age: time.Hour}, Temp: normal}, Decision{Manual, ReasonStatusStale}},
		{"unknown status, fresh, absent=manual", nil, Input{Card: card, Replica: Replica{Age: time.Minute}, Temp: normal}, Decision{Manual, ReasonStatusUnknown}},
		{"unknown status, fresh, absent=green", func(p *Policy) { p.AbsentStatus = AbsentGreen }, Input{Card: card, Replica: Replica{Age: time.Minute}, Temp: normal}, Decision{Pass, ReasonOK}},
		{"card+code: newer code wins", nil, Input{Card: card, Replica: Replica{Found: true, Status: StatusRed, AsOf: t0}, Code: phone(StatusGreen), Temp: normal}, Decision{Pass, ReasonOK}},
		{"card+code: newer replica wins", nil, Input{Card: card, Replica: Replica{Found: true, Status: StatusRed, AsOf: t0.Add(2 * time.Hour)}, Code: phone(StatusGreen), Temp: normal}, Decision{Deny, ReasonStatusRed}},
		{"card+code: tie gives the worse colour", nil, Input{Card: card, Replica: Replica{Found: true, Status: StatusGreen, AsOf: t0}, Code: &Code{Check: CodeValid, Class: ClassPhone, Status: StatusYellow, IssuedAt: t0}, Temp: normal}, Decision{Deny, ReasonStatusYellow}},
		{"invalid card beats fever", nil, Input{Card: &Card{}, Temp: Temp{TempStable, 39}}, Decision{Deny, ReasonIDInvalid}},
		{"thermometer down", nil, Input{Card: card, Replica: fresh, Temp: Temp{State: TempDown}}, Decision{Manual, ReasonThermometerDown}},
		{"thermometer down, no identity: wait", nil, Input{Temp: Temp{State: TempDown}}, Decision{Undecided, ""}},
		{"thermometer down, invalid card", nil, Input{Card: &Card{}, Temp: Temp{State: TempDown}}, Decision{Deny, ReasonIDInvalid}},
		{"printed code alone, reader down", nil, Input{Code: &Code{Check: CodeValid, Class: ClassPrinted, Status: StatusGreen}, ReaderDown: true}, Decision{Manual, ReasonReaderDown}},
		{"temperature off: no wait", func(p *Policy) { p.Temperature = Off }, Input{Card: card, Replica: fresh}, Decision{Pass, ReasonOK}},
		{"temperature off: fever not judged", func(p *Policy) { p.Temperature = Off }, Input{Card: card, Replica: fresh, Temp: Temp{TempStable, 39}}, Decision{Pass, ReasonOK}},
		{"temperature off: no retry", func(p *Policy) { p.Temperature = Off }, Input{Card: card, Replica: fresh, Temp: Temp{State: TempNone}}, Decision{Pass, ReasonOK}},
		{"temperature off: thermometer down", func(p *Policy) { p.Temperature = Off }, Input{Card: card, Replica: fresh, Temp: Temp{State: TempDown}}, Decision{Pass, ReasonOK}},
		{"temperature off: status still counts", func(p *Policy) { p.Temperature = Off }, Input{Card: card, Replica: Replica{Found: true, Status: StatusRed, AsOf: t0}}, Decision{Deny, ReasonStatusRed}},
		{"temperature off: nobody", func(p *Policy) { p.Temperature = Off }, Input{}, Decision{Undecided, ""}},
		{"status off: no row", func(p *Policy) { p.Status = Off }, Input{Card: card, Replica: Replica{Age: time.Hour}, Temp: normal}, Decision{Pass, ReasonOK}},
		{"status off: red row", func(p *Policy) { p.Status = Off }, Input{Card: card, Replica: Replica{Found: true, Status: StatusRed, AsOf: t0}, Temp: normal}, Decision{Pass, ReasonOK}},
		{"status off: fever still denies", func(p *Policy) { p.Status = Off }, Input{Card: card, Temp: Temp{TempStable, 38.1}}, Decision{Deny, ReasonFever}},
		{"status off: invalid card", func(p *Policy) { p.Status = Off }, Input{Card: &Card{}, Temp: normal}, Decision{Deny, ReasonIDInvalid}},
		{"both off: card alone", func(p *Policy) { p.Status, p.Temperature = Off, Off }, Input{Card: card}, Decision{Pass, ReasonOK}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := Default()
			if tt.p != nil {
				tt.p(&p)
			}
			if got := Decide(p, tt.in); got != tt.want {
				t.Errorf("Decide = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestEveryReasonHasTexts(t *testing.T) {
	for _, r := range Reasons() {
		tx := TextFor(r)
		if tx.TitleZh == "" || tx.TitleEn == "" || tx.Zh == "" || tx.En == "" || tx.Sound == "" {
			t.Errorf("reason %s: incomplete text %+v", r, tx)
		}
	}
	if got := TextFor(ReasonFever); got.Zh != "体温异常，请到人工通道复测" || got.En != "Temperature high, please see staff" {
		t.Errorf("fever text = %+v", got)
	}
	if got := TextForOutcome(ReasonStaffOverride, Deny); got.TitleZh != "禁止通行" || got.Sound != "deny" {
		t.Errorf("a staff DENY shows %+v", got)
	}
	if got := TextForOutcome(ReasonStaffOverride, Pass); got.TitleZh != "通行" || got.Sound != "pass" {
		t.Errorf("a staff PASS shows %+v", got)
	}
	if len(Reasons()) < 23 {
		t.Errorf("reasons lost: %d", len(Reasons()))
	}
}

func TestValidate(t *testing.T) {
	if err := Default().Validate(); err != nil {
		t.Fatal(err)
	}
	for _, p := range []Policy{{FeverC: 30, StatusMaxAge: time.Minute, AbsentStatus: AbsentGreen}, {FeverC: 37.3, AbsentStatus: AbsentGreen}, {FeverC: 37.3, StatusMaxAge: time.Minute, AbsentStatus: "blue"},
		{FeverC: 37.3, StatusMaxAge: time.Minute, AbsentStatus: AbsentGreen, Temperature: "no"},
		{FeverC: 37.3, StatusMaxAge: time.Minute, AbsentStatus: AbsentGreen, Status: "optional"}} {
		if p.Validate() == nil {
			t.Errorf("%+v accepted", p)
		}
	}
	for _, r := range []Requirement{"", Required, Off} {
		p := Default()
		p.Temperature, p.Status = r, r
		if err := p.Validate(); err != nil {
			t.Errorf("%q refused: %v", r, err)
		}
	}
}

// A hall without temperatures says nothing of one when it lets a person pass.
func TestTextUnderPolicy(t *testing.T) {
	p := Default()
	if got := p.Text(ReasonOK, Pass); got != TextFor(ReasonOK) {
		t.Errorf("required: %+v", got)
	}
	p.Temperature = Off
	got := p.Text(ReasonOK, Pass)
	if got.TitleZh != "通行" || got.Zh != "核验通过，请通行" || got.Sound == "pass" {
		t.Errorf("temperature off: %+v", got)
	}
	if p.Text(ReasonFever, Deny) != TextFor(ReasonFever) {
		t.Error("other reasons changed")
	}
}
