package scripts_test

import (
	"regexp"
	"slices"
	"strings"
	"testing"
)

// shellCommands lists the programs a shell script runs: every word in command position that is
// not a keyword, an assignment, an expansion ($X, "$@") or a function the script defines. It is
// a lexer, not a shell: it knows quoting, comments, here-documents (and the substitutions in an
// unquoted one), $( ), backticks, <( ), ${ }, (( )), arrays, case patterns, for-lists, [[ ]],
// redirections and the prefixes that run their argument (env, exec, command -v, sudo, xargs…);
// TestShellCommands holds one case per construct. Whether a word is a builtin is left to bash.
func shellCommands(src string) []string {
	s := &shScanner{src: src, funcs: map[string]bool{}}
	s.list(0)
	var out []string
	for _, c := range s.cmds {
		if !s.funcs[c] && !slices.Contains(out, c) {
			out = append(out, c)
		}
	}
	return out
}

type shScanner struct {
	src      string
	i        int
	cmds     []string
	funcs    map[string]bool
	heredocs []heredoc // delimiters waiting for the end of the line
	ticks    int       // inside this many backquote substitutions
}

type heredoc struct {
	delim  string
	strip  bool // <<- strips leading tabs
	quoted bool // <<'EOF': the body is literal
}

var (
	shAssign = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*(\[[^]]*\])?\+?=`)
	// keywords after which a command follows
	shLead = map[string]bool{"if": true, "then": true, "else": true, "elif": true, "do": true, "while": true,
		"until": true, "{": true, "!": true, "time": true}
	// keywords that close something: what follows is not a command
	shClose = map[string]bool{"fi": true, "done": true, "}": true, "esac": true}
	// words that run their first non-option argument
	shPrefix = map[string]bool{"env": true, "exec": true, "command": true, "sudo": true, "nohup": true,
		"xargs": true, "nice": true, "timeout": true, "builtin": true}
)

func (s *shScanner) peek(off int) byte {
	if s.i+off < len(s.src) {
		return s.src[s.i+off]
	}
	return 0
}

// list scans commands until end (0: end of input, ')' for $( and <(, '`' for backticks).
func (s *shScanner) list(end byte) {
	cmdPos, skipNext, prefix := true, false, false
	casePattern, caseWord, forList, dbracket := false, false, false, false
	depth := 0 // subshell parentheses opened at this level
	for s.i < len(s.src) {
		c := s.src[s.i]
		switch {
		case c == end && end == '`':
			s.i++
			s.ticks--
			return
		case c == ' ' || c == '\t':
			s.i++
		case c == '\\' && s.peek(1) == '\n':
			s.i += 2
		case c == '#':
			for s.i < len(s.src) && s.src[s.i] != '\n' {
				s.i++
			}
		case c == '\n':
			s.i++
			s.bodies()
			if !dbracket {
				cmdPos, prefix, forList = !casePattern, false, false
			}
		case c == ';':
			s.i++
			if s.peek(0) == ';' || s.peek(0) == '&' {
				for s.peek(0) == ';' || s.peek(0) == '&' {
					s.i++
				}
				casePattern, cmdPos = true, false
			} else {
				cmdPos, prefix, forList = true, false, false
			}
		case c == '&' && s.peek(1) == '>':
			s.i += 2
			if s.peek(0) == '>' {
				s.i++
			}
			skipNext = true
		case c == '&' || c == '|':
			s.i++
			if s.peek(0) == c || (c == '|' && s.peek(0) == '&') {
				s.i++
			}
			if !casePattern && !dbracket {
				cmdPos, prefix = true, false
			}
		case c == '(' && s.peek(1) == '(' && (cmdPos || forList):
			s.i += 2
			s.skipBalanced('(', ')')
			s.i++ // the second ')'
			cmdPos = false
		case c == '(':
			s.i++
			if !casePattern && !dbracket {
				depth++
				cmdPos = true
			}
		case c == ')':
			s.i++
			switch {
			case casePattern:
				casePattern, cmdPos = false, true
			case dbracket:
			case depth > 0:
				depth--
				cmdPos = false
			case end == ')':
				return
			}
		case (c == '<' || c == '>') && s.peek(1) == '(':
			s.word() // process substitution: an argument whose commands run
			skipNext = false
		case c == '<' || c == '>':
			s.redirect()
			skipNext = true
		default:
			start := s.i
			w, dynamic := s.word()
			if s.i < len(s.src) && (s.src[s.i] == '<' || s.src[s.i] == '>') && isDigits(s.src[start:s.i]) {
				continue // a file descriptor: 2>/dev/null
			}
			switch {
			case skipNext:
				skipNext = false
				if len(s.heredocs) > 0 && s.heredocs[len(s.heredocs)-1].delim == "\x00" {
					h := &s.heredocs[len(s.heredocs)-1]
					h.delim, h.quoted = w, strings.ContainsAny(s.src[start:s.i], `'"\`)
				}
			case dbracket:
				dbracket = w != "]]"
			case caseWord:
				if w == "in" {
					caseWord, casePattern = false, true
				}
			case casePattern:
				if w == "esac" {
					casePattern, cmdPos = false, false
				}
			case forList:
			case !cmdPos:
				if w == "esac" {
					casePattern = false
				}
			case prefix && (strings.HasPrefix(w, "-") || shAssign.MatchString(w) || isDigits(strings.TrimRight(w, "smhd"))):
			case !prefix && shAssign.MatchString(w):
			case dynamic:
				cmdPos = false
			case w == "function":
				s.skipSpace()
				n, _ := s.word()
				s.funcs[n] = true
				s.isFuncDef()
			case s.isFuncDef():
				s.funcs[w] = true
			case shLead[w]:
			case shClose[w]:
				cmdPos = false
				if w == "esac" {
					casePattern = false
				}
			case w == "case":
				caseWord, cmdPos = true, false
			case w == "for" || w == "select":
				forList, cmdPos = true, false
			case w == "[[":
				dbracket, cmdPos = true, false
			default:
				s.cmds = append(s.cmds, w)
				prefix = shPrefix[w]
				cmdPos = prefix
			}
		}
	}
}

// isFuncDef reports whether "()" follows (a function definition), and consumes it.
func (s *shScanner) isFuncDef() bool {
	j := s.i
	for j < len(s.src) && (s.src[j] == ' ' || s.src[j] == '\t') {
		j++
	}
	if j+1 < len(s.src) && s.src[j] == '(' {
		k := j + 1
		for k < len(s.src) && (s.src[k] == ' ' || s.src[k] == '\t') {
			k++
		}
		if k < len(s.src) && s.src[k] == ')' {
			s.i = k + 1
			return true
		}
	}
	return false
}

func (s *shScanner) skipSpace() {
	for s.i < len(s.src) && (s.src[s.i] == ' ' || s.src[s.i] == '\t') {
		s.i++
	}
}

// redirect consumes a redirection operator; a here-document's delimiter is the next word.
func (s *shScanner) redirect() {
	if strings.HasPrefix(s.src[s.i:], "<<<") {
		s.i += 3
		return
	}
	if strings.HasPrefix(s.src[s.i:], "<<") {
		s.i += 2
		strip := s.peek(0) == '-'
		if strip {
			s.i++
		}
		s.heredocs = append(s.heredocs, heredoc{delim: "\x00", strip: strip})
		return
	}
	s.i++
	for s.peek(0) == '>' || s.peek(0) == '&' || s.peek(0) == '|' {
		s.i++
	}
}

// bodies skips the here-documents opened on the line just ended; an unquoted one's
// substitutions are scanned.
func (s *shScanner) bodies() {
	docs := s.heredocs
	s.heredocs = nil
	for _, h := range docs {
		start := s.i
		for s.i < len(s.src) {
			eol := strings.IndexByte(s.src[s.i:], '\n')
			line := s.src[s.i:]
			if eol >= 0 {
				line = line[:eol]
			}
			if h.strip {
				line = strings.TrimLeft(line, "\t")
			}
			if line == h.delim {
				body := s.src[start:s.i]
				if eol < 0 {
					s.i = len(s.src)
				} else {
					s.i += eol + 1
				}
				if !h.quoted {
					sub := &shScanner{src: body, funcs: s.funcs}
					sub.dquoted(0)
					s.cmds = append(s.cmds, sub.cmds...)
				}
				break
			}
			if eol < 0 {
				s.i = len(s.src)
				break
			}
			s.i += eol + 1
		}
	}
}

// word reads one word and reports its unquoted text and whether it holds an expansion.
func (s *shScanner) word() (string, bool) {
	var b strings.Builder
	dynamic := false
	for s.i < len(s.src) {
		c := s.src[s.i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == ';' || c == '&' || c == '|' || c == ')':
			return b.String(), dynamic
		case (c == '<' || c == '>') && s.peek(1) == '(':
			s.i += 2
			s.list(')')
			dynamic = true
		case c == '<' || c == '>':
			return b.String(), dynamic
		case c == '(':
			if !strings.HasSuffix(b.String(), "=") {
				return b.String(), dynamic
			}
			s.i++
			s.array()
			b.WriteString("()")
		case c == '\\':
			if s.i+1 < len(s.src) && s.src[s.i+1] != '\n' {
				b.WriteByte(s.src[s.i+1])
			}
			s.i += 2
		case c == '\'':
			j := strings.IndexByte(s.src[s.i+1:], '\'')
			if j < 0 {
				j = len(s.src) - s.i - 1
			}
			b.WriteString(s.src[s.i+1 : s.i+1+j])
			s.i += j + 2
		case c == '"':
			s.i++
			if s.dquoted('"') {
				dynamic = true
			}
		case c == '`' && s.ticks > 0:
			return b.String(), dynamic
		case c == '`':
			s.i++
			s.ticks++
			s.list('`')
			dynamic = true
		case c == '$':
			s.dollar()
			dynamic = true
		case c == '*' || c == '?' || c == '[' && b.Len() > 0:
			b.WriteByte(c)
			s.i++
			dynamic = dynamic || c != '['
		default:
			b.WriteByte(c)
			s.i++
		}
	}
	return b.String(), dynamic
}

// array skips an array literal's elements up to its ')' (comments allowed between them).
func (s *shScanner) array() {
	for s.i < len(s.src) {
		switch c := s.src[s.i]; {
		case c == ')':
			s.i++
			return
		case c == ' ' || c == '\t' || c == '\n':
			s.i++
		case c == '#':
			for s.i < len(s.src) && s.src[s.i] != '\n' {
				s.i++
			}
		default:
			if _, _ = s.word(); s.i < len(s.src) && s.src[s.i] != ')' && strings.ContainsRune(";&|<>", rune(s.src[s.i])) {
				s.i++
			}
		}
	}
}

// dquoted reads a double-quoted string up to end (or a here-document body to its end when end
// is 0), scanning its substitutions; it reports whether it held an expansion.
func (s *shScanner) dquoted(end byte) bool {
	dynamic := false
	for s.i < len(s.src) {
		switch c := s.src[s.i]; c {
		case end:
			s.i++
			return dynamic
		case '\\':
			s.i += 2
		case '`':
			s.i++
			s.ticks++
			s.list('`')
			dynamic = true
		case '$':
			s.dollar()
			dynamic = true
		default:
			s.i++
		}
	}
	return dynamic
}

// dollar consumes an expansion at s.i ('$'): $(cmd), $((expr)), ${…}, $'…' or $name.
func (s *shScanner) dollar() {
	s.i++
	switch s.peek(0) {
	case '(':
		if s.peek(1) == '(' {
			s.i += 2
			s.skipBalanced('(', ')')
			s.i++
			return
		}
		s.i++
		s.list(')')
	case '{':
		s.i++
		s.skipBalanced('{', '}')
	case '\'':
		s.i++
		for s.i < len(s.src) && s.src[s.i] != '\'' {
			if s.src[s.i] == '\\' {
				s.i++
			}
			s.i++
		}
		s.i++
	default:
		for s.i < len(s.src) && (isNameByte(s.src[s.i]) || strings.IndexByte("@*#?$!-", s.src[s.i]) >= 0 && s.src[s.i-1] == '$') {
			s.i++
		}
	}
}

// skipBalanced skips to the close that balances an already consumed open (quotes and
// substitutions inside are scanned), and consumes that close.
func (s *shScanner) skipBalanced(open, close byte) {
	depth := 0
	for s.i < len(s.src) {
		c := s.src[s.i]
		switch {
		case c == '\\':
			s.i += 2
			continue
		case c == '\'' && open == '{':
			if j := strings.IndexByte(s.src[s.i+1:], '\''); j >= 0 {
				s.i += j + 2
				continue
			}
		case c == '"':
			s.i++
			s.dquoted('"')
			continue
		case c == '$':
			s.dollar()
			continue
		case c == open:
			depth++
		case c == close:
			if depth == 0 {
				s.i++
				return
			}
			depth--
		}
		s.i++
	}
}

func isNameByte(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

func isDigits(w string) bool {
	if w == "" {
		return false
	}
	for i := 0; i < len(w); i++ {
		if w[i] < '0' || w[i] > '9' {
			return false
		}
	}
	return true
}

func TestShellCommands(t *testing.T) {
	tests := []struct {
		name, src string
		want      []string
	}{
		{"simple and pipelines", "a x | b -y && c; d || e & f", []string{"a", "b", "c", "d", "e", "f"}},
		{"comments", "a # b c\n# d\n  e", []string{"a", "e"}},
		{"quotes", `a 'b; c' "d | e" f\;g`, []string{"a"}},
		{"continuation", "a \\\n  b\nc", []string{"a", "c"}},
		{"command substitution", `x=$(a | b) y="$(c "$(d)")" e ` + "`f`", []string{"a", "b", "c", "d", "e", "f"}},
		{"arithmetic", "((n > 1)) && a $((1+2))\nfor ((i=0; i<3; i++)); do b; done", []string{"a", "b"}},
		{"parameter expansion", `a "${x:-$(b)}" ${#y[@]} ${z//-/.}`, []string{"a", "b"}},
		{"expanded command words are skipped", `"$GO" build; $sudo apt-get x; "${env[@]}" c`, nil},
		{"assignments", "A=1 B=\"2 3\" a; C+=(x y) b; arr=(\n  [k]=v # note (c)\n  [l]=w\n)\nd", []string{"a", "b", "d"}},
		{"functions", "f() { a; }\nfunction g { b; }\nh () {\n  c\n}\nf; g; h; i", []string{"a", "b", "c", "i"}},
		{"case", "case \"$1\" in\n  --x|-x) a ;;\n  (y) b; c ;;\n  *) case $z in q) d ;; esac ;;\nesac\ne", []string{"a", "b", "c", "d", "e"}},
		{"for and while", "for p in a b c; do d \"$p\"; done\nwhile read -r x; do e; done < <(f x)", []string{"d", "read", "e", "f"}},
		{"if", "if a; then b; elif ! c; then d; else e; fi", []string{"a", "b", "c", "d", "e"}},
		{"redirections", "a >/dev/null 2>&1 <in; >&2 b; c &>log 3<&0; d <<< \"$(e)\"", []string{"a", "b", "c", "d", "e"}},
		{"here-documents", "cat <<EOF >f\nnot a command; $(a)\nEOF\ncat <<-'X'\n\t$(no)\n\tX\nb", []string{"cat", "a", "b"}},
		{"subshells and groups", "( cd x && a ) || { b; }; (c)", []string{"cd", "a", "b", "c"}},
		{"double brackets", `[[ $a == x && -n "$(a)" ]] && b; [ -e c ] || d`, []string{"a", "b", "[", "d"}},
		{"prefixes", "env -i A=1 a -x; exec b y; command -v c; sudo -n d; xargs -0 e; timeout 10s f", []string{"env", "a", "exec", "b", "command", "c", "sudo", "d", "xargs", "e", "timeout", "f"}},
		{"paths", "/usr/bin/env; ./b.sh x; scripts/c.sh", []string{"/usr/bin/env", "./b.sh", "scripts/c.sh"}},
		{"globs are not programs", "for f in *.deb; do a \"$f\"; done; ls x*", []string{"a", "ls"}},
		{"trap strings are literal", "trap 'rm -rf x' EXIT\na", []string{"trap", "a"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := shellCommands(tt.src); !slices.Equal(got, tt.want) {
				t.Errorf("shellCommands(%q)\n = %q\nwant %q", tt.src, got, tt.want)
			}
		})
	}
}
