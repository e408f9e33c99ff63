package config

import (
	"bytes"
	"fmt"
	"path/filepath"
	"strings"
)

// diffContext is the number of unchanged lines around each change.
const diffContext = 3

// UnifiedDiff is the line diff from old to new of the file at path, in
// unified format with 3 lines of context ("--- a/path", "+++ b/path",
// "@@ -l,s +l,s @@" hunks), or "" when they are equal.
func UnifiedDiff(path string, old, new []byte) string {
	if bytes.Equal(old, new) {
		return ""
	}
	a, b := splitLines(old), splitLines(new)
	edits := diffLines(a, b)

	var sb strings.Builder
	p := filepath.ToSlash(path)
	fmt.Fprintf(&sb, "--- a/%s\n+++ b/%s\n", p, p)
	for _, h := range hunks(edits) {
		writeHunk(&sb, edits[h[0]:h[1]])
	}
	return sb.String()
}

// edit is one line of a diff: ' ' kept, '-' removed, '+' added. oldPos and
// newPos are the numbers of old and new lines before it.
type edit struct {
	op             byte
	text           string
	oldPos, newPos int
}

// splitLines splits src after every newline; a last line without one is
// kept as it is.
func splitLines(src []byte) []string {
	var out []string
	for len(src) > 0 {
		i := bytes.IndexByte(src, '\n')
		if i < 0 {
			out = append(out, string(src))
			break
		}
		out = append(out, string(src[:i+1]))
		src = src[i+1:]
	}
	return out
}

// diffLines computes a shortest edit script from a to b (Myers' greedy
// algorithm, O((N+M)·D) time).
func diffLines(a, b []string) []edit {
	n, m := len(a), len(b)
	limit := n + m
	off := limit + 1
	v := make([]int, 2*limit+3)
	var trace [][]int
search:
	for d := 0; d <= limit; d++ {
		trace = append(trace, append([]int(nil), v...))
		for k := -d; k <= d; k += 2 {
			var x int
			if k == -d || (k != d && v[off+k-1] < v[off+k+1]) {
				x = v[off+k+1]
			} else {
				x = v[off+k-1] + 1
			}
			y := x - k
			for x < n && y < m && a[x] == b[y] {
				x, y = x+1, y+1
			}
			v[off+k] = x
			if x >= n && y >= m {
				break search
			}
		}
	}

	var rev []edit
	x, y := n, m
	for d := len(trace) - 1; d >= 0; d-- {
		tv := trace[d]
		k := x - y
		var pk int
		if k == -d || (k != d && tv[off+k-1] < tv[off+k+1]) {
			pk = k + 1
		} else {
			pk = k - 1
		}
		px := tv[off+pk]
		py := px - pk
		for x > px && y > py {
			rev = append(rev, edit{op: ' ', text: a[x-1]})
			x, y = x-1, y-1
		}
		if d > 0 {
			if x == px {
				rev = append(rev, edit{op: '+', text: b[y-1]})
			} else {
				rev = append(rev, edit{op: '-', text: a[x-1]})
			}
		}
		x, y = px, py
	}

	edits := make([]edit, 0, len(rev))
	oldPos, newPos := 0, 0
	for i := len(rev) - 1; i >= 0; i-- {
		e := rev[i]
		e.oldPos, e.newPos = oldPos, newPos
		if e.op != '+' {
			oldPos++
		}
		if e.op != '-' {
			newPos++
		}
		edits = append(edits, e)
	}
	return edits
}

// hunks groups the changes of edits with their context into [start, end)
// ranges of edits; changes closer than twice the context share a hunk.
func hunks(edits []edit) [][2]int {
	var out [][2]int
	for i := 0; i < len(edits); i++ {
		if edits[i].op == ' ' {
			continue
		}
		start := max(0, i-diffContext)
		last := i
		for j := i + 1; j < len(edits) && j <= last+2*diffContext; j++ {
			if edits[j].op != ' ' {
				last = j
			}
		}
		end := min(len(edits), last+1+diffContext)
		if n := len(out); n > 0 && start <= out[n-1][1] {
			out[n-1][1] = end
		} else {
			out = append(out, [2]int{start, end})
		}
		i = last
	}
	return out
}

func writeHunk(sb *strings.Builder, h []edit) {
	oldCount, newCount := 0, 0
	for _, e := range h {
		if e.op != '+' {
			oldCount++
		}
		if e.op != '-' {
			newCount++
		}
	}
	oldStart, newStart := h[0].oldPos+1, h[0].newPos+1
	if oldCount == 0 {
		oldStart--
	}
	if newCount == 0 {
		newStart--
	}
	fmt.Fprintf(sb, "@@ -%d,%d +%d,%d @@\n", oldStart, oldCount, newStart, newCount)
	for _, e := range h {
		sb.WriteByte(e.op)
		sb.WriteString(e.text)
		if !strings.HasSuffix(e.text, "\n") {
			sb.WriteString("\n\\ No newline at end of file\n")
		}
	}
}
