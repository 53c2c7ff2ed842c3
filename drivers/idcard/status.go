package idcard

import (
	"errors"
	"fmt"
)

// Status is the reader's SW3 byte. Every value other than StatusOK and StatusFound is returned
// as an error, so callers test with errors.Is(err, idcard.StatusNoCard) or errors.As(err, &st).
type Status byte

// SW3 status codes on the wire (specs/idcard-ga467.md §2.4).
const (
	StatusOK            Status = 0x90 // operation OK
	StatusNoContent     Status = 0x91 // no content for this item (e.g. no appended address)
	StatusFound         Status = 0x9F // find card OK
	StatusChecksum      Status = 0x10 // the reader got a frame with a bad checksum from us
	StatusLength        Status = 0x11 // the reader got a frame with a bad length from us (or too few bytes in time)
	StatusCommand       Status = 0x21 // command error: unknown command, bad value, illegal combination
	StatusUnauthorised  Status = 0x23 // unauthorised operation
	StatusUnrecognised  Status = 0x24 // unrecognised error
	StatusCardAuthSAM   Status = 0x31 // the card failed to authenticate the SAM
	StatusSAMAuthCard   Status = 0x32 // the SAM failed to authenticate the card
	StatusVerify        Status = 0x33 // information verification error
	StatusNotFoundYet   Status = 0x34 // no card found yet, card operation refused (one vendor only)
	StatusCardType      Status = 0x40 // unrecognised card type / wrong card
	StatusReadFailed    Status = 0x41 // read card failed; also the answer when the card is gone
	StatusRandom        Status = 0x47 // get-random failed
	StatusWriteFailed   Status = 0x50 // write card failed (one vendor only)
	StatusSelfTest      Status = 0x60 // SAM self-test failed, cannot accept commands
	StatusLogin         Status = 0x61 // user login failed (one vendor only)
	StatusNotAuthorised Status = 0x66 // SAM not authorised (no production keys downloaded)
	StatusNoCard        Status = 0x80 // find card failed: the normal "no card" answer
	StatusSelectFailed  Status = 0x81 // select card failed
)

type meaning struct{ en, zh string }

var meanings = map[Status]meaning{
	StatusOK:            {"operation OK", "操作成功"},
	StatusNoContent:     {"no content for this item", "证/卡中此项无内容"},
	StatusFound:         {"card found", "寻找证/卡成功"},
	StatusChecksum:      {"the reader received a frame with a bad checksum", "接收业务终端数据的校验和错"},
	StatusLength:        {"the reader received a frame with a bad length or too few bytes", "接收业务终端数据的长度错"},
	StatusCommand:       {"command error (unknown command or bad value)", "接收业务终端的命令错误"},
	StatusUnauthorised:  {"unauthorised operation", "越权操作"},
	StatusUnrecognised:  {"unrecognised error", "无法识别的错误"},
	StatusCardAuthSAM:   {"the card failed to authenticate the SAM", "证/卡认证SAM_V失败"},
	StatusSAMAuthCard:   {"the SAM failed to authenticate the card", "SAM_V认证证/卡失败"},
	StatusVerify:        {"information verification error", "信息验证错误"},
	StatusNotFoundYet:   {"no card found yet, card operation refused", "尚未找卡，不能进行对卡的操作"},
	StatusCardType:      {"unrecognised card type", "无法识别的卡类型"},
	StatusReadFailed:    {"read card failed (card gone?)", "读证/卡操作失败"},
	StatusRandom:        {"get-random failed", "取随机数失败"},
	StatusWriteFailed:   {"write card failed", "写卡操作失败"},
	StatusSelfTest:      {"SAM self-test failed", "SAM_V自检失败，不能接收命令"},
	StatusLogin:         {"user login failed", "用户登录失败"},
	StatusNotAuthorised: {"SAM not authorised", "SAM_V没有经过授权，无法使用"},
	StatusNoCard:        {"no card", "寻找证/卡失败"},
	StatusSelectFailed:  {"select card failed", "选取证/卡失败"},
}

// Meaning returns the English and Chinese meaning of the status.
func (s Status) Meaning() (en, zh string) {
	if m, ok := meanings[s]; ok {
		return m.en, m.zh
	}
	return "unknown status", "未知状态"
}

// Known reports whether the status is one of the documented wire codes.
func (s Status) Known() bool { _, ok := meanings[s]; return ok }

func (s Status) Error() string {
	en, zh := s.Meaning()
	return fmt.Sprintf("reader status %02X: %s (%s)", byte(s), en, zh)
}

// samFault reports statuses that point at the SAM or the link to it rather than at the card: a run
// of these is cured, if at all, by resetting the SAM.
func (s Status) samFault() bool {
	switch s {
	case StatusChecksum, StatusLength, StatusCommand, StatusUnauthorised, StatusUnrecognised,
		StatusRandom, StatusSelfTest, StatusLogin, StatusNotAuthorised:
		return true
	}
	return false
}

// Transport errors: what went wrong between the bytes and a frame. They are distinct from Status
// errors, which are the reader's own answer.
var (
	// ErrTimeout: no complete reply within the command's deadline.
	ErrTimeout = errors.New("idcard: no reply from the reader in time")
	// ErrNoise: bytes outside any frame were skipped (line noise, another protocol, a late reply).
	ErrNoise = errors.New("idcard: bytes outside a frame")
	// ErrFrameChecksum: a frame's XOR checksum did not match; it was dropped.
	ErrFrameChecksum = errors.New("idcard: frame checksum mismatch")
	// ErrFrameLength: a preamble was followed by an impossible length; it was dropped.
	ErrFrameLength = errors.New("idcard: frame length out of range")
	// ErrTruncated: a frame stopped arriving part way; the partial frame was dropped.
	ErrTruncated = errors.New("idcard: truncated frame")
	// ErrBadReply: a well-formed frame whose content does not fit the command.
	ErrBadReply = errors.New("idcard: reply does not fit the command")
	// ErrPort: the serial port itself failed (unplugged, closed); the reader reconnects.
	ErrPort = errors.New("idcard: serial port failed")
)
