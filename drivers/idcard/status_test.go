package idcard_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"onepass/drivers/idcard"
)

// Every SW3 code of the spec's table (§2.4) is a typed error with its meaning.
func TestStatusMeanings(t *testing.T) {
	for _, tc := range []struct {
		st idcard.Status
		zh string
	}{
		{idcard.StatusOK, "操作成功"}, {idcard.StatusNoContent, "无内容"}, {idcard.StatusFound, "寻找证/卡成功"},
		{idcard.StatusChecksum, "校验和错"}, {idcard.StatusLength, "长度错"}, {idcard.StatusCommand, "命令错误"},
		{idcard.StatusUnauthorised, "越权操作"}, {idcard.StatusUnrecognised, "无法识别的错误"},
		{idcard.StatusCardAuthSAM, "证/卡认证SAM_V失败"}, {idcard.StatusSAMAuthCard, "SAM_V认证证/卡失败"},
		{idcard.StatusVerify, "信息验证错误"}, {idcard.StatusNotFoundYet, "尚未找卡"}, {idcard.StatusCardType, "无法识别的卡类型"},
		{idcard.StatusReadFailed, "读证/卡操作失败"}, {idcard.StatusRandom, "取随机数失败"}, {idcard.StatusWriteFailed, "写卡操作失败"},
		{idcard.StatusSelfTest, "自检失败"}, {idcard.StatusLogin, "用户登录失败"}, {idcard.StatusNotAuthorised, "没有经过授权"},
		{idcard.StatusNoCard, "寻找证/卡失败"}, {idcard.StatusSelectFailed, "选取证/卡失败"},
	} {
		if !tc.st.Known() {
			t.Errorf("%02X not known", byte(tc.st))
		}
		en, zh := tc.st.Meaning()
		if en == "" || !strings.Contains(zh, tc.zh) {
			t.Errorf("%02X: %q %q, want %q in it", byte(tc.st), en, zh, tc.zh)
		}
		if msg := tc.st.Error(); !strings.Contains(msg, fmt.Sprintf("%02X", byte(tc.st))) || !strings.Contains(msg, en) {
			t.Errorf("%02X: Error() = %q", byte(tc.st), msg)
		}
		wrapped := fmt.Errorf("command 20 01: %w", tc.st)
		var st idcard.Status
		if !errors.Is(wrapped, tc.st) || !errors.As(wrapped, &st) || st != tc.st {
			t.Errorf("%02X does not survive wrapping", byte(tc.st))
		}
	}
	if idcard.Status(0x77).Known() || !strings.Contains(idcard.Status(0x77).Error(), "77: unknown") {
		t.Errorf("unknown status: %v", idcard.Status(0x77))
	}
	if errors.Is(idcard.StatusNoCard, idcard.StatusSelectFailed) {
		t.Error("distinct statuses compare equal")
	}
}
