#!/usr/bin/env bash
# gen-voice.sh — render the voice clips into ui/assets/audio/<name>.wav (16 kHz, mono, 16-bit PCM)
# with espeak-ng, resampled and trimmed by sox: the kiosk's outcome prompts in Mandarin (<name>) and
# English (<name>_en), and the hall screen's calling clips (call_*), which hall.js joins into
# "请 A002 号到 3 号窗口办理" / "Number A 0 0 2, please go to counter 3".
#
# The clips are committed, so building onepass needs no espeak-ng. espeak-ng sounds robotic: any
# clip can be replaced by a recorded one of the same name and format (ui tests check the format).
# Existing clips are kept, so recorded ones survive a re-run; -f renders every clip again
# (the output is byte-for-byte reproducible). Clip names are those of policy.Text.Sound plus the
# idle and measuring prompts, and whatever ui/assets/static/voice.js asks for; ui/audio_test.go
# checks that none is missing.
#
# Mandarin is rendered from pinyin with the cmn-latn-pinyin voice: Debian's cmn voice falls back to
# English for many Hanzi (请 → "qing three", 零 → "ling two"; see `espeak-ng -v cmn -x 请`). The
# Hanzi are kept beside the pinyin for review. Letters are the one exception: the cmn voice says
# them the way a Chinese hall does (A "ei", W "da-bu-liu"), the pinyin voice would read A as "a".
set -euo pipefail

force=0
[[ ${1:-} == -f ]] && force=1
cd "$(dirname "$0")/.."
out=ui/assets/audio
mkdir -p "$out"

# name|pinyin|Hanzi. Keep the sentences short: every clip must end before the result screen does.
zh=(
	"pass|ti3 wen1 zheng4 chang2, qing3 tong1 xing2|体温正常，请通行"
	"fever|ti3 wen1 yi4 chang2, qing3 dao4 ren2 gong1 tong1 dao4 fu4 ce4|体温异常，请到人工通道复测"
	"deny|jin4 zhi3 tong1 xing2, qing3 lian2 xi4 gong1 zuo4 ren2 yuan2|禁止通行，请联系工作人员"
	"manual|qing3 lian2 xi4 gong1 zuo4 ren2 yuan2 he2 yan4|请联系工作人员核验"
	"invalid_id|zheng4 jian4 wu2 xiao4, qing3 lian2 xi4 gong1 zuo4 ren2 yuan2|证件无效，请联系工作人员"
	"invalid_code|jian4 kang1 ma3 wu2 fa3 he2 yan4, qing3 lian2 xi4 gong1 zuo4 ren2 yuan2|健康码无法核验，请联系工作人员"
	"show_card|qing3 shua1 shen1 fen4 zheng4|请刷身份证"
	"retry|qing3 chong2 xin1 ce4 wen1, qing3 zheng4 dui4 ce4 wen1 qu1|请重新测温，请正对测温区"
	"idle|qing3 shua1 shen1 fen4 zheng4 huo4 chu1 shi4 jian4 kang1 ma3|请刷身份证或出示健康码"
	"measure|qing3 zheng4 dui4 ce4 wen1 qu1|请正对测温区"
	# The hall's calls: 请 <letter> <digits> 号 到 <counter> 号窗口办理. Ticket numbers are read digit by
	# digit (A 零 零 二, as halls and banks do); counters 10–99 as numbers (十二号窗口), from the
	# digits and 十: nobody says 一二号窗口.
	"call_please|qing3|请"
	"call_hao|hao4|号"
	"call_dao|dao4|到"
	"call_window|hao4 chuang1 kou3 ban4 li3|号窗口办理"
	"call_recall|zai4 ci4 hu1 jiao4|再次呼叫"
	"call_0|ling2|零" "call_1|yi1|一" "call_2|er4|二" "call_3|san1|三" "call_4|si4|四"
	"call_5|wu3|五" "call_6|liu4|六" "call_7|qi1|七" "call_8|ba1|八" "call_9|jiu3|九"
	"call_10|shi2|十"
)

# name|text
en=(
	"pass_en|Temperature normal, please pass"
	"fever_en|Temperature high, please see staff"
	"deny_en|No entry, please see staff"
	"manual_en|Please see staff to be checked"
	"invalid_id_en|Invalid ID, please see staff"
	"invalid_code_en|Health code cannot be checked, please see staff"
	"show_card_en|Please place your ID card on the reader"
	"retry_en|Please measure again, facing the sensor"
	"idle_en|Please place your ID card or show your health code"
	"measure_en|Please face the sensor"
	# Number A 0 0 2, please go to counter 3 (counter 12: "twelve", counter 100: "1 0 0").
	"call_number_en|Number"
	"call_counter_en|please go to counter"
	"call_recall_en|Calling again"
	"call_0_en|zero" "call_1_en|one" "call_2_en|two" "call_3_en|three" "call_4_en|four"
	"call_5_en|five" "call_6_en|six" "call_7_en|seven" "call_8_en|eight" "call_9_en|nine"
	"call_10_en|ten" "call_11_en|eleven" "call_12_en|twelve" "call_13_en|thirteen" "call_14_en|fourteen"
	"call_15_en|fifteen" "call_16_en|sixteen" "call_17_en|seventeen" "call_18_en|eighteen" "call_19_en|nineteen"
	"call_20_en|twenty" "call_30_en|thirty" "call_40_en|forty" "call_50_en|fifty" "call_60_en|sixty"
	"call_70_en|seventy" "call_80_en|eighty" "call_90_en|ninety"
)

# Letters: service codes are A–Z, and counter IDs may hold letters too. voice|name|text.
letters=()
for l in {A..Z}; do
	lc=${l,,}
	letters+=("cmn|call_$lc|$l" "en|call_${lc}_en|$l")
done

need=()
command -v espeak-ng >/dev/null || need+=(espeak-ng)
command -v sox >/dev/null || need+=(sox)
if ((${#need[@]})); then
	if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
		apt-get install -y -qq "${need[@]}" >/dev/null || { apt-get update -qq && apt-get install -y -qq "${need[@]}" >/dev/null; }
	fi
	command -v espeak-ng >/dev/null || { echo "gen-voice: espeak-ng missing (apt-get install espeak-ng)" >&2; exit 1; }
	command -v sox >/dev/null || echo "gen-voice: sox missing: writing espeak-ng's own 22.05 kHz output; the ui test wants 16 kHz (apt-get install sox)" >&2
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# render VOICE NAME TEXT
render() {
	local voice=$1 name=$2 text=$3 dst=$out/$2.wav
	if [[ -e $dst && $force == 0 ]]; then
		return
	fi
	# -s 165: a little slower than espeak's default, for elderly listeners.
	espeak-ng -v "$voice" -s 165 -w "$tmp/raw.wav" "$text"
	if command -v sox >/dev/null; then
		# -R -D: reproducible, no dither. Drop leading silence, cut pauses to 0.25 s (espeak's comma
		# pauses are long), normalise to -1 dBFS.
		local tail=()
		# A call is joined from several clips: drop their trailing silence too, or it drags.
		[[ $name == call_* ]] && tail=(reverse silence 1 0.02 0.5% reverse pad 0 0.03)
		sox -R -D "$tmp/raw.wav" -r 16000 -c 1 -b 16 -e signed-integer "$tmp/out.wav" \
			silence -l 1 0.02 0.5% -1 0.25 0.5% "${tail[@]}" gain -n -1 pad 0.05 0
	else
		cp "$tmp/raw.wav" "$tmp/out.wav"
	fi
	mv "$tmp/out.wav" "$dst"
	echo "gen-voice: $dst ($name: $text)"
}

for c in "${zh[@]}"; do
	IFS='|' read -r name pinyin _ <<<"$c"
	render cmn-latn-pinyin "$name" "$pinyin"
done
for c in "${en[@]}"; do
	render en "${c%%|*}" "${c#*|}"
done
for c in "${letters[@]}"; do
	IFS='|' read -r voice name text <<<"$c"
	render "$voice" "$name" "$text"
done
