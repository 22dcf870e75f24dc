package root

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"unicode"
)

// This file reads Markdown the way the docs tests need it: fenced code
// blocks, the prose around them, headings and links, and the shell command
// lines inside code blocks, split into words as a POSIX shell would.

// codeBlock is one fenced code block.
type codeBlock struct {
	lang  string // the info string's first word, lower case
	line  int    // line number of the first content line
	lines []string
}

// proseLine is one line outside code blocks.
type proseLine struct {
	line int
	text string
}

// markdown is a parsed document.
type markdown struct {
	blocks []codeBlock
	prose  []proseLine
}

var fenceRE = regexp.MustCompile("^(\\s*)(`{3,}|~{3,})\\s*([^\\s`]*)")

// parseMarkdown splits a document into fenced code blocks and prose.
func parseMarkdown(src string) markdown {
	var md markdown
	var open *codeBlock
	var fence, indent string
	for i, line := range strings.Split(src, "\n") {
		n := i + 1
		if open == nil {
			if m := fenceRE.FindStringSubmatch(line); m != nil {
				indent, fence = m[1], m[2]
				open = &codeBlock{lang: strings.ToLower(m[3]), line: n + 1}
				continue
			}
			md.prose = append(md.prose, proseLine{n, line})
			continue
		}
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, fence) && strings.Trim(trimmed, fence[:1]) == "" {
			md.blocks = append(md.blocks, *open)
			open = nil
			continue
		}
		open.lines = append(open.lines, strings.TrimPrefix(line, indent))
	}
	if open != nil { // an unclosed fence runs to the end of the document
		md.blocks = append(md.blocks, *open)
	}
	return md
}

// shellLangs are the code block languages whose lines are shell commands.
// "console" blocks hold commands after a "$ " prompt and their output;
// output anywhere else belongs in a block marked text (or any other
// language), which is not read as commands.
var shellLangs = map[string]bool{"": true, "sh": true, "bash": true, "shell": true, "zsh": true, "console": true, "shell-session": true}

// shellCommand is one simple command: its words after expansion-free
// parsing, with environment assignments and wrappers such as sudo removed.
type shellCommand struct {
	line  int
	text  string // the command line it came from, continuations joined
	words []string
}

// commandLines returns the command lines of a code block: continuations
// joined, prompts stripped, comments, blank lines and here-documents left
// out. In a console block only prompted lines are commands.
func commandLines(b codeBlock) []proseLine {
	if !shellLangs[b.lang] {
		return nil
	}
	var out []proseLine
	heredoc := ""
	for i := 0; i < len(b.lines); i++ {
		line, start := b.lines[i], b.line+i
		if heredoc != "" {
			if strings.TrimSpace(line) == heredoc {
				heredoc = ""
			}
			continue
		}
		trimmed := strings.TrimSpace(line)
		prompted := strings.HasPrefix(trimmed, "$ ")
		if b.lang == "console" || b.lang == "shell-session" {
			if !prompted {
				continue
			}
		}
		trimmed = strings.TrimPrefix(trimmed, "$ ")
		for strings.HasSuffix(trimmed, `\`) && i+1 < len(b.lines) {
			i++
			trimmed = strings.TrimSuffix(trimmed, `\`) + " " + strings.TrimSpace(b.lines[i])
		}
		if trimmed == "" || strings.HasPrefix(trimmed, "#") {
			continue
		}
		out = append(out, proseLine{start, trimmed})
		if _, _, h, err := splitShell(trimmed); err == nil {
			heredoc = h
		}
	}
	return out
}

// shellCommands splits the command lines of a block into simple commands,
// including those inside $(…). A line that cannot be split is an error
// when it mentions a command the tests check.
func shellCommands(b codeBlock) ([]shellCommand, []error) {
	var cmds []shellCommand
	var errs []error
	for _, l := range commandLines(b) {
		queue := []string{l.text}
		for len(queue) > 0 {
			text := queue[0]
			queue = queue[1:]
			simple, subs, _, err := splitShell(text)
			if err != nil {
				if mentionsChecked(text) {
					errs = append(errs, fmt.Errorf("line %d: %q: %w", l.line, l.text, err))
				}
				continue
			}
			queue = append(queue, subs...)
			for _, words := range simple {
				if words = stripWrappers(words); len(words) > 0 {
					cmds = append(cmds, shellCommand{line: l.line, text: l.text, words: words})
				}
			}
		}
	}
	return cmds, errs
}

// checkedCommandRE finds a checked command where a command starts: at the
// beginning of the line (after VAR=value assignments or sudo), or after |,
// ;, & or $( — not as a word in the middle of other text.
var checkedCommandRE = regexp.MustCompile(`(^(\S+=\S*\s+)*(sudo\s+)?|[;|&(]\s*)(\S*/)?(phoenix|make)(\s|$)`)

// mentionsChecked reports whether a line that cannot be split would hold a
// command the tests check, which makes it an error rather than prose or
// output in an unmarked block.
func mentionsChecked(text string) bool { return checkedCommandRE.MatchString(text) }

var assignmentRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*=`)

// stripWrappers removes leading VAR=value assignments and command wrappers
// that run the rest of the line as a command.
func stripWrappers(words []string) []string {
	for len(words) > 0 {
		switch {
		case assignmentRE.MatchString(words[0]):
		case words[0] == "sudo" || words[0] == "env" || words[0] == "exec" || words[0] == "nohup" || words[0] == "time" || words[0] == "command":
		default:
			return words
		}
		words = words[1:]
	}
	return words
}

// commandName is the program a command runs: bin/phoenix is phoenix.
func commandName(words []string) string {
	if len(words) == 0 {
		return ""
	}
	return words[0][strings.LastIndex(words[0], "/")+1:]
}

var errRedirect = errors.New("redirection without a target")

// splitShell splits one command line into simple commands (separated by
// |, ||, &&, ; and &) of words, with quotes removed, redirections dropped,
// comments ignored and $(…) kept as a placeholder word whose contents are
// returned in subs. It also returns a here-document's delimiter. A word
// written <name> is a placeholder, not two redirections: docs use it for
// values the reader supplies.
func splitShell(line string) (cmds [][]string, subs []string, heredoc string, err error) {
	l := &shellLexer{s: []rune(line)}
	err = l.run()
	return l.cmds, l.subs, l.heredoc, err
}

type shellLexer struct {
	s       []rune
	i       int
	cur     []string
	cmds    [][]string
	subs    []string
	heredoc string
}

var placeholderRE = regexp.MustCompile(`^<[A-Za-z][A-Za-z0-9_.-]*>`)

func (l *shellLexer) peek(k int) rune {
	if l.i+k < len(l.s) {
		return l.s[l.i+k]
	}
	return 0
}

func (l *shellLexer) run() error {
	for {
		for l.i < len(l.s) && unicode.IsSpace(l.s[l.i]) {
			l.i++
		}
		if l.i >= len(l.s) {
			break
		}
		c := l.s[l.i]
		rest := string(l.s[l.i:])
		switch {
		case c == '#':
			l.i = len(l.s)
		case c == '<' && placeholderRE.MatchString(rest):
			m := placeholderRE.FindString(rest)
			l.cur = append(l.cur, m)
			l.i += len([]rune(m))
		case l.atRedirect():
			if err := l.redirect(); err != nil {
				return err
			}
		case c == '|' || c == ';' || c == '&':
			l.i++
			if n := l.peek(0); (c == '|' || c == '&') && n == c {
				l.i++
			}
			l.endCommand()
		case c == '(' || c == ')':
			return fmt.Errorf("subshells are not supported")
		default:
			w, err := l.word()
			if err != nil {
				return err
			}
			l.cur = append(l.cur, w)
		}
	}
	l.endCommand()
	return nil
}

func (l *shellLexer) endCommand() {
	if len(l.cur) > 0 {
		l.cmds = append(l.cmds, l.cur)
	}
	l.cur = nil
}

// atRedirect reports whether a redirection starts here: an optional file
// descriptor number, then > or <, or &> .
func (l *shellLexer) atRedirect() bool {
	k := 0
	for unicode.IsDigit(l.peek(k)) {
		k++
	}
	c := l.peek(k)
	return c == '>' || c == '<' || (k == 0 && c == '&' && l.peek(1) == '>')
}

// redirect consumes a redirection and its target; a here-document's
// delimiter is remembered.
func (l *shellLexer) redirect() error {
	for unicode.IsDigit(l.peek(0)) {
		l.i++
	}
	start := l.i
	for strings.ContainsRune("<>&|-", l.peek(0)) && l.i-start < 3 {
		l.i++
	}
	op := string(l.s[start:l.i])
	for l.i < len(l.s) && unicode.IsSpace(l.s[l.i]) {
		l.i++
	}
	if l.i >= len(l.s) || strings.ContainsRune("|;&<>", l.s[l.i]) {
		return errRedirect
	}
	target, err := l.word()
	if err != nil {
		return err
	}
	if strings.HasPrefix(op, "<<") {
		l.heredoc = target
	}
	return nil
}

// word reads one word, removing quotes and backslashes.
func (l *shellLexer) word() (string, error) {
	var b strings.Builder
	for l.i < len(l.s) {
		c := l.s[l.i]
		switch {
		case unicode.IsSpace(c) || strings.ContainsRune("|;&<>()", c):
			return b.String(), nil
		case c == '\\':
			if l.i+1 >= len(l.s) {
				return "", errors.New("a backslash ends the line")
			}
			b.WriteRune(l.s[l.i+1])
			l.i += 2
		case c == '\'':
			j := l.i + 1
			for j < len(l.s) && l.s[j] != '\'' {
				j++
			}
			if j >= len(l.s) {
				return "", errors.New("unterminated single quote")
			}
			b.WriteString(string(l.s[l.i+1 : j]))
			l.i = j + 1
		case c == '"':
			if err := l.doubleQuoted(&b); err != nil {
				return "", err
			}
		case c == '$' && l.peek(1) == '(':
			if err := l.substitution(&b); err != nil {
				return "", err
			}
		default:
			b.WriteRune(c)
			l.i++
		}
	}
	return b.String(), nil
}

func (l *shellLexer) doubleQuoted(b *strings.Builder) error {
	l.i++ // opening quote
	for l.i < len(l.s) {
		c := l.s[l.i]
		switch {
		case c == '"':
			l.i++
			return nil
		case c == '\\' && l.i+1 < len(l.s) && strings.ContainsRune("\"\\$`", l.s[l.i+1]):
			b.WriteRune(l.s[l.i+1])
			l.i += 2
		case c == '$' && l.peek(1) == '(':
			if err := l.substitution(b); err != nil {
				return err
			}
		default:
			b.WriteRune(c)
			l.i++
		}
	}
	return errors.New("unterminated double quote")
}

// substitution reads $(…) to its matching parenthesis, outside quotes,
// keeping the command inside for checking.
func (l *shellLexer) substitution(b *strings.Builder) error {
	start := l.i + 2
	depth, quote := 0, rune(0)
	for j := start; j < len(l.s); j++ {
		c := l.s[j]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"':
			quote = c
		case c == '(':
			depth++
		case c == ')' && depth > 0:
			depth--
		case c == ')':
			l.subs = append(l.subs, string(l.s[start:j]))
			b.WriteString("$(…)")
			l.i = j + 1
			return nil
		}
	}
	return errors.New("unterminated $(")
}
