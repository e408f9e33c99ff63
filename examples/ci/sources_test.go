package ci_test

import (
	"fmt"
	"os"
	"regexp"
	"strings"
	"unicode"

	"go.yaml.in/yaml/v3"
)

// workflowRuns returns the shell scripts of a GitHub workflow: every step's
// `run`, with the line its text starts on. ${{ ... }} expressions become a
// placeholder word.
func workflowRuns(path string) ([]subst, *yaml.Node, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	var runs []subst
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		if n.Kind == yaml.MappingNode {
			for i := 0; i+1 < len(n.Content); i += 2 {
				k, v := n.Content[i], n.Content[i+1]
				if k.Value == "run" && v.Kind == yaml.ScalarNode {
					line := v.Line
					if v.Style == yaml.LiteralStyle || v.Style == yaml.FoldedStyle {
						line++ // the text starts below "run: |"
					}
					runs = append(runs, subst{ghExpr.ReplaceAllString(v.Value, "GHEXPR"), line})
				}
			}
		}
		for _, c := range n.Content {
			walk(c)
		}
	}
	walk(&doc)
	return runs, &doc, nil
}

var ghExpr = regexp.MustCompile(`\$\{\{.*?\}\}`)

// kotlinString is a string literal of a Kotlin file, decoded: escapes
// resolved, ${'$'} turned into $, and every other template into the word
// KT.
type kotlinString struct {
	text string
	line int
	// before is the code on the literal's line in front of it ("name = ").
	before string
}

// kotlinStrings returns the string literals of a Kotlin source, outside
// comments.
func kotlinStrings(src string) ([]kotlinString, error) {
	var out []kotlinString
	line, lineStart := 1, 0
	for i := 0; i < len(src); i++ {
		switch {
		case src[i] == '\n':
			line++
			lineStart = i + 1
		case strings.HasPrefix(src[i:], "//"):
			for i+1 < len(src) && src[i+1] != '\n' {
				i++
			}
		case strings.HasPrefix(src[i:], "/*"):
			end := strings.Index(src[i+2:], "*/")
			if end < 0 {
				return nil, fmt.Errorf("line %d: unterminated comment", line)
			}
			line += strings.Count(src[i:i+2+end], "\n")
			i += end + 3
		case src[i] == '\'':
			end := strings.IndexByte(src[i+1:], '\'')
			if end < 0 {
				return nil, fmt.Errorf("line %d: unterminated character", line)
			}
			i += end + 1
		case src[i] == '"':
			raw := strings.HasPrefix(src[i:], `"""`)
			start, first, before := i, line, src[lineStart:i]
			body, end, err := kotlinLiteral(src, i, raw)
			if err != nil {
				return nil, fmt.Errorf("line %d: %w", line, err)
			}
			line += strings.Count(src[start:end], "\n")
			if n := strings.LastIndexByte(src[start:end], '\n'); n >= 0 {
				lineStart = start + n + 1
			}
			out = append(out, kotlinString{body, first, before})
			i = end - 1
		}
	}
	return out, nil
}

// kotlinLiteral decodes the literal at src[i:] and returns the index just
// after it.
func kotlinLiteral(src string, i int, raw bool) (string, int, error) {
	var b strings.Builder
	j := i + 1
	if raw {
		j = i + 3
	}
	for j < len(src) {
		c := src[j]
		switch {
		case raw && strings.HasPrefix(src[j:], `"""`):
			return b.String(), j + 3, nil
		case !raw && c == '"':
			return b.String(), j + 1, nil
		case !raw && c == '\n':
			return "", 0, fmt.Errorf("unterminated string")
		case !raw && c == '\\' && j+1 < len(src):
			j++
			switch src[j] {
			case 'n':
				b.WriteByte('\n')
			case 't':
				b.WriteByte('\t')
			default:
				b.WriteByte(src[j])
			}
			j++
		case c == '$' && strings.HasPrefix(src[j:], "${"):
			depth, k := 0, j+1
			for ; k < len(src); k++ {
				if src[k] == '{' {
					depth++
				} else if src[k] == '}' {
					depth--
					if depth == 0 {
						break
					}
				}
			}
			if k == len(src) {
				return "", 0, fmt.Errorf("unterminated template")
			}
			if src[j+2:k] == "'$'" {
				b.WriteByte('$')
			} else {
				b.WriteString("KT")
			}
			j = k + 1
		case c == '$' && j+1 < len(src) && (unicode.IsLetter(rune(src[j+1])) || src[j+1] == '_'):
			j++
			for j < len(src) && (unicode.IsLetter(rune(src[j])) || unicode.IsDigit(rune(src[j])) || src[j] == '_') {
				j++
			}
			b.WriteString("KT")
		default:
			b.WriteByte(c)
			j++
		}
	}
	return "", 0, fmt.Errorf("unterminated string")
}

// labels are the Kotlin properties whose strings are names for people, not
// scripts ("envmig apply (production)").
var labels = regexp.MustCompile(`\b(name|description|label)\s*=\s*$`)

// kotlinInvocations returns the envmig commands of a TeamCity Kotlin DSL
// file: those in its string literals (scripts, and the pieces scripts are
// built from), but for the names and descriptions of things.
func kotlinInvocations(file, src string) ([]invocation, error) {
	strs, err := kotlinStrings(src)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	var out []invocation
	for _, s := range strs {
		if labels.MatchString(s.before) {
			continue
		}
		in, err := findInvocations(file, s.text, s.line)
		if err != nil {
			return nil, err
		}
		out = append(out, in...)
	}
	return out, nil
}

// markdownInvocations returns the envmig commands of a Markdown page: the
// lines of its shell code blocks (fenced, or indented after a blank line)
// that start with envmig, and its inline code spans that do.
func markdownInvocations(file, src string) ([]invocation, error) {
	var out []invocation
	lines := strings.Split(src, "\n")
	var prose strings.Builder // the page without its fenced blocks, for spans
	fence, lang, prevBlank, inIndented := "", "", true, false
	for n, l := range lines {
		trim := strings.TrimSpace(l)
		if fence != "" {
			if strings.HasPrefix(trim, fence) {
				fence = ""
			} else if shellLang(lang) {
				if inv, ok, err := codeLine(file, trim, n+1); err != nil {
					return nil, err
				} else if ok {
					out = append(out, inv...)
				}
			}
			prose.WriteString("\n")
			continue
		}
		if strings.HasPrefix(trim, "```") || strings.HasPrefix(trim, "~~~") {
			fence, lang = trim[:3], strings.TrimSpace(trim[3:])
			prose.WriteString("\n")
			continue
		}
		indented := strings.HasPrefix(l, "    ") && trim != ""
		if indented && (prevBlank || inIndented) {
			inIndented = true
			if inv, ok, err := codeLine(file, trim, n+1); err != nil {
				return nil, err
			} else if ok {
				out = append(out, inv...)
			}
			prose.WriteString("\n")
			prevBlank = false
			continue
		}
		inIndented = inIndented && trim == ""
		prevBlank = trim == ""
		prose.WriteString(l + "\n")
	}
	text := prose.String()
	for _, m := range inlineCode.FindAllStringSubmatchIndex(text, -1) {
		span := strings.Join(strings.Fields(text[m[2]:m[3]]), " ")
		if !strings.HasPrefix(span, "envmig ") {
			continue
		}
		in, err := findInvocations(file, span, 1+strings.Count(text[:m[0]], "\n"))
		if err != nil {
			return nil, err
		}
		out = append(out, in...)
	}
	return out, nil
}

var inlineCode = regexp.MustCompile("`([^`]+)`")

func shellLang(lang string) bool {
	switch lang {
	case "", "sh", "bash", "shell", "console", "text":
		return true
	}
	return false
}

// codeLine finds the envmig command of one code line ("envmig ...", or
// "$ envmig ...").
func codeLine(file, line string, n int) ([]invocation, bool, error) {
	line = strings.TrimPrefix(line, "$ ")
	if !strings.HasPrefix(line, "envmig ") && line != "envmig" {
		return nil, false, nil
	}
	in, err := findInvocations(file, line, n)
	return in, err == nil, err
}
