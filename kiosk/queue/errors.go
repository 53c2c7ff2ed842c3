package queue

import "fmt"

// Error is a refusal the person at the screen or the counter must understand: a stable code for
// programs and texts in Chinese and English. Failures of the machinery (the database) are plain
// wrapped errors instead.
type Error struct {
	Code string `json:"error"`
	Zh   string `json:"zh"`
	En   string `json:"en"`
}

func (e *Error) Error() string { return "queue: " + e.Code + ": " + e.En }

// Is makes errors.Is match on the code, so a refusal with details still matches its sentinel.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

// with returns a copy of e with details appended to both texts.
func (e *Error) with(zh, en string, a ...any) *Error {
	return &Error{Code: e.Code, Zh: e.Zh + fmt.Sprintf(zh, a...), En: e.En + fmt.Sprintf(en, a...)}
}

// Refusals.
var (
	ErrUnknownService  = &Error{"unknown_service", "没有这项业务", "no such service"}
	ErrUnknownCounter  = &Error{"unknown_counter", "没有这个窗口", "no such counter"}
	ErrBadPriority     = &Error{"bad_priority", "优先类别无效", "unknown priority class"}
	ErrQueueEmpty      = &Error{"queue_empty", "暂无等候的号", "nobody is waiting for this counter"}
	ErrNoCurrent       = &Error{"no_current", "本窗口当前没有叫号", "this counter has no ticket called"}
	ErrSameService     = &Error{"same_service", "已在该业务队列中", "the ticket is already in that service"}
	ErrNoPass          = &Error{"no_pass", "未找到通行记录，请先核验", "no pass found: please check in at the kiosk first"}
	ErrNotPassed       = &Error{"not_passed", "未通过核验，不能取号", "this check did not pass: no ticket"}
	ErrPassExpired     = &Error{"pass_expired", "核验已超时，请重新核验后取号", "the pass is too old: please check in again"}
	ErrAppointmentOff  = &Error{"appointment_off", "本大厅未开通预约签到", "appointment check-in is not set up in this hall"}
	ErrAppointment     = &Error{"appointment_invalid", "预约码无效", "not a valid appointment code"}
	ErrApptWrongDay    = &Error{"appointment_wrong_day", "预约不是今天", "the appointment is not for today"}
	ErrApptTooEarly    = &Error{"appointment_too_early", "预约签到时间未到", "too early to check in for this appointment"}
	ErrApptTooLate     = &Error{"appointment_too_late", "预约已过时，请取普通号", "the appointment slot has passed: please take a normal ticket"}
	ErrApptUsed        = &Error{"appointment_used", "该预约已签到", "this appointment was already checked in"}
	ErrStopped         = &Error{"stopped", "取号服务未运行", "the queue is not running"}
	errTicketNotActive = &Error{"not_active", "该号已结束", "the ticket is closed"}
)
