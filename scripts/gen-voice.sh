#!/usr/bin/env bash
# gen-voice.sh — render the kiosk's Mandarin voice clips into ui/assets/audio/<name>.wav
# (16 kHz, mono, 16-bit PCM) with espeak-ng, resampled and trimmed by sox.
#
# The clips are committed, so building onepass needs no espeak-ng. espeak-ng sounds robotic: any
# clip can be replaced by a recorded one of the same name and format (ui tests check the format).
# Existing clips are kept, so recorded ones survive a re-run; -f renders every clip again
# (the output is byte-for-byte reproducible). Clip names are those of policy.Text.Sound plus the
# idle and measuring prompts; ui/audio_test.go checks that none is missing.
set -euo pipefail

force=0
[[ ${1:-} == -f ]] && force=1
cd "$(dirname "$0")/.."
out=ui/assets/audio
mkdir -p "$out"

# name|text. Keep the sentences short: every clip must end before the result screen does.
clips=(
	"pass|体温正常，请通行"
	"fever|体温异常，请到人工通道复测"
	"deny|禁止通行，请联系工作人员"
	"manual|请联系工作人员核验"
	"invalid_id|证件无效，请联系工作人员"
	"invalid_code|健康码无法核验，请联系工作人员"
	"show_card|请刷身份证"
	"retry|请重新测温，请正对测温区"
	"idle|请刷身份证或出示健康码"
	"measure|请正对测温区"
)

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
for c in "${clips[@]}"; do
	name=${c%%|*} text=${c#*|} dst=$out/${c%%|*}.wav
	if [[ -e $dst && $force == 0 ]]; then
		continue
	fi
	# -s 165: a little slower than espeak's default, for elderly listeners.
	espeak-ng -v cmn -s 165 -w "$tmp/raw.wav" "$text"
	if command -v sox >/dev/null; then
		# -R -D: reproducible, no dither. Drop leading silence, cut pauses to 0.25 s (espeak's comma
		# pauses are long), normalise to -1 dBFS.
		sox -R -D "$tmp/raw.wav" -r 16000 -c 1 -b 16 -e signed-integer "$tmp/out.wav" \
			silence -l 1 0.02 0.5% -1 0.25 0.5% gain -n -1 pad 0.05 0
	else
		cp "$tmp/raw.wav" "$tmp/out.wav"
	fi
	mv "$tmp/out.wav" "$dst"
	echo "gen-voice: $dst ($name: $text)"
done
