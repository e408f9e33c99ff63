package ci_test

import (
	"fmt"
	"regexp"
	"strings"
)

// An invocation is one `envmig ...` command found in a shell script, a
// Kotlin string or a Markdown page.
type invocation struct {
	file string
	line int
	args []string // after "envmig"
}

func (inv invocation) String() string {
	return fmt.Sprintf("%s:%d: envmig %s", inv.file, inv.line, strings.Join(inv.args, " "))
}

type tokKind int

const (
	tWord  tokKind = iota
	tOp            // ; && || | & ( ) ;; and newline: a command ends, another may start
	tRedir         // > >> < <<< >& <& &>: the next word is its target
)

type token struct {
	kind tokKind
	text string
	bare bool // a word without any quoting or expansion
	line int
}

// subst is the text of a command substitution $(...), found at line.
type subst struct {
	text string
	line int
}

// tokenize splits a POSIX shell script into words, operators and
// redirections, enough to find the commands it runs: quotes, escapes,
// comments, ${...} and $(...) (returned apart, to be searched too).
// Backquotes and here-documents are refused: the examples must not use them,
// so that no command escapes the check.
func tokenize(src string, line int) ([]token, []subst, error) {
	var (
		toks  []token
		subs  []subst
		word  strings.Builder
		inWrd bool
		bare  = true
		start = line
	)
	flush := func() {
		if inWrd {
			toks = append(toks, token{tWord, word.String(), bare, start})
		}
		word.Reset()
		inWrd, bare = false, true
	}
	begin := func() {
		if !inWrd {
			inWrd, start = true, line
		}
	}
	for i := 0; i < len(src); i++ {
		c := src[i]
		next := byte(0)
		if i+1 < len(src) {
			next = src[i+1]
		}
		switch {
		case c == '\\' && next == '\n':
			i++
			line++
		case c == '\\':
			begin()
			bare = false
			if next != 0 {
				word.WriteByte(next)
				i++
			}
		case c == ' ' || c == '\t' || c == '\r':
			flush()
		case c == '\n':
			flush()
			toks = append(toks, token{kind: tOp, text: "\n", line: line})
			line++
		case c == '#' && !inWrd:
			for i+1 < len(src) && src[i+1] != '\n' {
				i++
			}
		case c == '\'':
			begin()
			bare = false
			end := strings.IndexByte(src[i+1:], '\'')
			if end < 0 {
				return nil, nil, fmt.Errorf("line %d: unterminated single quote", line)
			}
			s := src[i+1 : i+1+end]
			word.WriteString(s)
			line += strings.Count(s, "\n")
			i += end + 1
		case c == '"':
			begin()
			bare = false
			j, err := dquote(src, i+1, &word, &line, &subs)
			if err != nil {
				return nil, nil, err
			}
			i = j
		case c == '`':
			return nil, nil, fmt.Errorf("line %d: backquotes are not supported here: use $(...)", line)
		case c == '$' && next == '(':
			begin()
			bare = false
			j, err := substitution(src, i, &line, &subs)
			if err != nil {
				return nil, nil, err
			}
			word.WriteString("$(…)")
			i = j
		case c == '$' && next == '{':
			begin()
			bare = false
			end := strings.IndexByte(src[i:], '}')
			if end < 0 {
				return nil, nil, fmt.Errorf("line %d: unterminated ${", line)
			}
			word.WriteString(src[i : i+end+1])
			i += end
		case c == '$':
			begin()
			bare = false
			word.WriteByte(c)
		case c == ';' || c == '&' || c == '|' || c == '(' || c == ')':
			if c == '&' && next == '>' {
				flush()
				toks = append(toks, token{kind: tRedir, text: "&>", line: line})
				i++
				continue
			}
			flush()
			op := string(c)
			if (c == ';' || c == '&' || c == '|') && next == c {
				op += string(c)
				i++
			}
			toks = append(toks, token{kind: tOp, text: op, line: line})
		case c == '<' || c == '>':
			if inWrd && bare && strings.Trim(word.String(), "0123456789") == "" {
				word.Reset() // a file descriptor: 2>&1
				inWrd = false
			}
			flush()
			op := string(c)
			for i+1 < len(src) && strings.IndexByte("<>&", src[i+1]) >= 0 && len(op) < 3 {
				op += string(src[i+1])
				i++
			}
			if op == "<<" || op == "<<-" {
				return nil, nil, fmt.Errorf("line %d: here-documents are not supported here", line)
			}
			toks = append(toks, token{kind: tRedir, text: op, line: line})
		default:
			begin()
			word.WriteByte(c)
		}
	}
	flush()
	return toks, subs, nil
}

// dquote reads a double-quoted string from src[i:] (after its opening
// quote) into word and returns the index of its closing quote.
func dquote(src string, i int, word *strings.Builder, line *int, subs *[]subst) (int, error) {
	for ; i < len(src); i++ {
		switch c := src[i]; {
		case c == '"':
			return i, nil
		case c == '\\' && i+1 < len(src):
			i++
			word.WriteByte(src[i])
		case c == '$' && i+1 < len(src) && src[i+1] == '(':
			j, err := substitution(src, i, line, subs)
			if err != nil {
				return 0, err
			}
			word.WriteString("$(…)")
			i = j
		case c == '`':
			return 0, fmt.Errorf("line %d: backquotes are not supported here: use $(...)", *line)
		default:
			if c == '\n' {
				*line++
			}
			word.WriteByte(c)
		}
	}
	return 0, fmt.Errorf("line %d: unterminated double quote", *line)
}

// substitution reads the $(...) at src[i:], records its text and returns
// the index of its closing parenthesis.
func substitution(src string, i int, line *int, subs *[]subst) (int, error) {
	first := *line
	depth := 0
	for j := i + 1; j < len(src); j++ {
		switch c := src[j]; c {
		case '(':
			depth++
		case ')':
			depth--
			if depth == 0 {
				*subs = append(*subs, subst{src[i+2 : j], first})
				return j, nil
			}
		case '\'':
			end := strings.IndexByte(src[j+1:], '\'')
			if end < 0 {
				return 0, fmt.Errorf("line %d: unterminated single quote", *line)
			}
			*line += strings.Count(src[j+1:j+1+end], "\n")
			j += end + 1
		case '"':
			var discard strings.Builder
			var inner []subst // searched again when the substitution's text is
			k, err := dquote(src, j+1, &discard, line, &inner)
			if err != nil {
				return 0, err
			}
			j = k
		case '\\':
			j++
		case '\n':
			*line++
		}
	}
	return 0, fmt.Errorf("line %d: unterminated $(", first)
}

// reserved words after which a command still starts.
var reserved = map[string]bool{"if": true, "then": true, "else": true, "elif": true, "do": true, "while": true, "until": true, "!": true, "time": true, "{": true, "}": true}

var assignment = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*\+?=`)

// findInvocations returns every envmig command the script runs (also inside
// $(...)), wherever it starts: at a line's start, after ; && || | & ( ) or a
// reserved word, after variable assignments.
func findInvocations(file, script string, line int) ([]invocation, error) {
	toks, subs, err := tokenize(script, line)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	var out []invocation
	atStart := true
	for i := 0; i < len(toks); i++ {
		t := toks[i]
		switch {
		case t.kind == tOp:
			atStart = true
			continue
		case t.kind == tRedir:
			i++
			continue
		case !atStart:
			continue
		case t.bare && reserved[t.text], assignment.MatchString(t.text):
			continue
		}
		atStart = false
		if !t.bare || t.text != "envmig" {
			continue
		}
		inv := invocation{file: file, line: t.line}
		for i+1 < len(toks) && toks[i+1].kind != tOp {
			i++
			if toks[i].kind == tRedir {
				i++
				continue
			}
			inv.args = append(inv.args, toks[i].text)
		}
		out = append(out, inv)
	}
	for _, s := range subs {
		in, err := findInvocations(file, s.text, s.line)
		if err != nil {
			return nil, err
		}
		out = append(out, in...)
	}
	return out, nil
}
