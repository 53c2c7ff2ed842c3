// Hall announcements: which clips, in which order, announce a call. No side effects: hall.html
// loads it before hall.js, and ui/audio_test.go runs callClips over every letter, digit and
// counter shape to check that each clip it names is embedded (scripts/gen-voice.sh makes them).
'use strict';

// spellClips says s character by character: A002 → A 0 0 2 (ticket numbers are read digit by
// digit, as halls and banks do). Only letters and digits are said.
function spellClips(s, en) {
  const sfx = en ? '_en' : '';
  return [...String(s)].filter((ch) => /^[0-9A-Za-z]$/.test(ch)).map((ch) => 'call_' + ch.toLowerCase() + sfx);
}

// counterClips says a counter ID: 1–99 as a number (十二号窗口, counter twelve), as people name
// windows; anything else (100, 05, 3A) character by character.
function counterClips(id, en) {
  const s = String(id);
  if (!/^[1-9][0-9]?$/.test(s)) return spellClips(s, en);
  const n = Number(s), tens = Math.floor(n / 10), units = n % 10;
  if (en) {
    if (n < 20) return ['call_' + n + '_en'];
    return ['call_' + tens * 10 + '_en', ...(units ? ['call_' + units + '_en'] : [])];
  }
  if (n < 10) return ['call_' + n];
  // 十, 十二, 二十, 二十一: from the digits and 十.
  return [...(tens > 1 ? ['call_' + tens] : []), 'call_10', ...(units ? ['call_' + units] : [])];
}

// callClips lists the clips (names under /audio/, without .wav) that announce call c
// ({number, counter, recall}) in lang 'zh' (请 A002 号到 3 号窗口办理) or 'en' (Number A 0 0 2,
// please go to counter 3). A recall starts with 再次呼叫 / Calling again.
function callClips(c, lang) {
  const en = lang === 'en';
  const out = c.recall ? ['call_recall' + (en ? '_en' : '')] : [];
  if (en) {
    out.push('call_number_en', ...spellClips(c.number, true), 'call_counter_en', ...counterClips(c.counter, true));
  } else {
    out.push('call_please', ...spellClips(c.number, false), 'call_hao', 'call_dao', ...counterClips(c.counter, false), 'call_window');
  }
  return out;
}
