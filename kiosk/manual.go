package kiosk

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"onepass/device"
	"onepass/identity"
	"onepass/kiosk/policy"
	"onepass/sync/store"
)

// ManualInput is a person identified at the staff console: the certificate number typed by
// staff (someone without a phone, or whose card the reader cannot read) and the temperature they
// measured with a handheld thermometer.
type ManualInput struct {
	Number    string  // as on the certificate
	Name      string  // as on the certificate; stored masked only
	Foreigner bool    // 外国人永久居留身份证
	TempC     float64 // 0: not measured
}

// ManualResult is the decision for a manual check, with the texts the console shows.
type ManualResult struct {
	Outcome    policy.Outcome `json:"outcome"`
	Reason     policy.Reason  `json:"reason"`
	VisitID    string         `json:"visit_id,omitempty"`
	MaskedName string         `json:"masked_name"`
	MaskedID   string         `json:"masked_id"`
	TitleZh    string         `json:"title_zh"`
	TitleEn    string         `json:"title_en"`
	TextZh     string         `json:"text_zh"`
	TextEn     string         `json:"text_en"`
}

// CheckManual decides for a manually identified person with the lane's policy, status replica
// and keys, exactly as for a card on the reader, and writes the visit (method "manual") before
// answering. It does not disturb the lane's own pass flow: it may run while someone stands at
// the lane. A visit that cannot be written turns the answer into MANUAL, as at the lane.
func (l *Lane) CheckManual(ctx context.Context, in ManualInput) (ManualResult, error) {
	now := l.clock.Now()
	typ := device.CardResident
	if in.Foreigner {
		typ = device.CardForeigner
	}
	c := &device.Card{Type: typ, Number: strings.ToUpper(strings.TrimSpace(in.Number))}
	num, err := checkNumber(c, now)
	res := ManualResult{MaskedName: identity.MaskName(strings.TrimSpace(in.Name))}
	pin := policy.Input{Card: &policy.Card{NumberValid: err == nil}}
	v := &store.Visit{At: now, Lane: l.cfg.Lane, Method: string(MethodManual), MaskedName: res.MaskedName}
	if err == nil {
		res.MaskedID = identity.MaskID(num)
		ct := certType(typ)
		if l.keys.Deployment != nil {
			v.PersonKey = identity.PersonKey(l.keys.Deployment, ct, num)
		}
		if l.keys.Sealer != nil {
			if v.SealedID, err = l.keys.Sealer.Seal(ct, num); err != nil {
				l.logger.Error("seal id", "err", err)
			}
		}
	}
	pin.Replica.Age = time.Duration(math.MaxInt64)
	if l.replica != nil {
		pin.Replica.Age = l.replica.Age(ctx)
		if v.PersonKey != nil {
			row, ok, err := l.replica.Status(ctx, v.PersonKey)
			if err != nil {
				l.logger.Error("replica lookup", "err", err)
			}
			if ok {
				pin.Replica.Found, pin.Replica.Status, pin.Replica.AsOf = true, policy.Status(row.Status), row.AsOf
			}
		}
	}
	m := l.cfg.Measure
	if in.TempC == 0 {
		pin.Temp = policy.Temp{State: policy.TempNone}
	} else if pin.Temp = policy.StableTemp(in.TempC, m.RangeMinC, m.RangeMaxC); pin.Temp.State == policy.TempStable {
		c := pin.Temp.C // rounded once: decided, answered and stored alike
		v.TempC = &c
	}
	d := policy.Decide(l.cfg.Policy, pin)
	if d.Outcome == policy.Undecided {
		d = policy.Decision{Outcome: policy.Retry, Reason: policy.ReasonNoTemperature}
	}
	v.Outcome, v.Reason = string(d.Outcome), string(d.Reason)
	var logErr error
	if l.log == nil {
		logErr = errors.New("no visit log configured")
	} else if logErr = l.log.Append(ctx, v); logErr == nil {
		res.VisitID = v.ID
	}
	l.counter.logged(logErr == nil)
	if logErr != nil {
		l.logger.Error("manual check not logged: refusing the result", "err", logErr)
		d = policy.Decision{Outcome: policy.Manual, Reason: policy.ReasonLogUnavailable}
	}
	tx := l.cfg.Policy.Text(d.Reason, d.Outcome)
	res.Outcome, res.Reason = d.Outcome, d.Reason
	res.TitleZh, res.TitleEn, res.TextZh, res.TextEn = tx.TitleZh, tx.TitleEn, tx.Zh, tx.En
	l.logger.Info("manual check", "outcome", d.Outcome, "reason", d.Reason, "visit", res.VisitID)
	if logErr != nil {
		return res, fmt.Errorf("kiosk: manual check: %w", logErr)
	}
	return res, nil
}
