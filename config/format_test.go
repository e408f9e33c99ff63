package config

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"pgregory.net/rapid"
)

const unformatted = `environment "prod" {
bucket "b" {
    name="shop-b"
  versioning =    true
  }
}`

const formatted = `environment "prod" {
  bucket "b" {
    name       = "shop-b"
    versioning = true
  }
}
`

func TestFormat(t *testing.T) {
	out, diags := Format([]byte(unformatted), "x.envmig.hcl")
	if diags != nil {
		t.Fatal(diags)
	}
	if diff := cmp.Diff(formatted, string(out)); diff != "" {
		t.Errorf("format (-want +got):\n%s", diff)
	}
	again, _ := Format(out, "x.envmig.hcl")
	if string(again) != string(out) {
		t.Error("formatting is not idempotent")
	}

	json := []byte(`{"aws":   {}}`)
	if out, diags := Format(json, "x.envmig.json"); diags != nil || string(out) != string(json) {
		t.Errorf("JSON changed: %q %v", out, diags)
	}

	for name, src := range map[string]string{
		"syntax error": "environment \"prod\" {\n  bucket \"b\" {\n",
		"not UTF-8":    "environment \"caf\xe9\" {}\n",
	} {
		out, diags := Format([]byte(src), "bad.envmig.hcl")
		if out != nil || !diags.HasErrors() || diags[0].Subject == nil || diags[0].Subject.Filename != "bad.envmig.hcl" {
			t.Errorf("%s: got %q, %v; want no output and a diagnostic naming the file", name, out, diags)
		}
	}
}

func TestFormatDir(t *testing.T) {
	dir := writeSpec(t, map[string]string{
		"a.envmig.hcl":  unformatted,
		"b.envmig.hcl":  formatted,
		"c.envmig.json": `{"aws":   {}}`,
		"d.hcl":         unformatted,
	})
	for _, sub := range []string{"staging", ".envmig", "staging/.hidden"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, sub, "s.envmig.hcl"), []byte(unformatted), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	summary := func(rs []FormatResult) []string {
		var out []string
		for _, r := range rs {
			rel, _ := filepath.Rel(dir, r.Path)
			out = append(out, fmt.Sprintf("%s changed=%v", filepath.ToSlash(rel), r.Changed()))
		}
		return out
	}
	rs, err := FormatDir(dir, false)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"a.envmig.hcl changed=true", "b.envmig.hcl changed=false"}, summary(rs)); diff != "" {
		t.Errorf("non-recursive (-want +got):\n%s", diff)
	}
	if string(rs[0].New) != formatted || string(rs[0].Old) != unformatted {
		t.Errorf("result %q -> %q", rs[0].Old, rs[0].New)
	}
	rs, err = FormatDir(dir, true)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"a.envmig.hcl changed=true", "b.envmig.hcl changed=false", "staging/s.envmig.hcl changed=true"}
	if diff := cmp.Diff(want, summary(rs)); diff != "" {
		t.Errorf("recursive (-want +got):\n%s", diff)
	}

	if err := os.WriteFile(filepath.Join(dir, "e.envmig.hcl"), []byte("environment {\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	rs, err = FormatDir(dir, false)
	if err == nil || !strings.Contains(err.Error(), "e.envmig.hcl") || len(rs) != 2 {
		t.Errorf("unparsable file: err %v, %d results", err, len(rs))
	}
	if _, err := FormatDir(filepath.Join(dir, "missing"), false); err == nil {
		t.Error("missing directory: no error")
	}
}

func TestUnifiedDiff(t *testing.T) {
	if d := UnifiedDiff("x", []byte("a\n"), []byte("a\n")); d != "" {
		t.Errorf("equal files: %q", d)
	}
	got := UnifiedDiff("dir/x.envmig.hcl", []byte(unformatted), []byte(formatted))
	want := `--- a/dir/x.envmig.hcl
+++ b/dir/x.envmig.hcl
@@ -1,6 +1,6 @@
 environment "prod" {
-bucket "b" {
-    name="shop-b"
-  versioning =    true
+  bucket "b" {
+    name       = "shop-b"
+    versioning = true
   }
-}
\ No newline at end of file
+}
`
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("diff (-want +got):\n%s", diff)
	}

	old := strings.Repeat("same\n", 20) + "old\n" + strings.Repeat("same\n", 20)
	new := strings.Repeat("same\n", 20) + "new\n" + strings.Repeat("same\n", 20)
	got = UnifiedDiff("f", []byte(old), []byte(new))
	want = "--- a/f\n+++ b/f\n@@ -18,7 +18,7 @@\n same\n same\n same\n-old\n+new\n same\n same\n same\n"
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("context (-want +got):\n%s", diff)
	}
}

// TestUnifiedDiffApplies: for any two files, applying the diff to the old
// one gives the new one, and every hunk has at most 3 lines of context
// around its changes.
func TestUnifiedDiffApplies(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		line := rapid.SampledFrom([]string{"a\n", "b\n", "c\n", "d\n", "}\n", "e"})
		oldLines := rapid.SliceOfN(line, 0, 60).Draw(t, "old")
		// new is old with a few edits, so that diffs have long runs of
		// unchanged lines, as formatting diffs do.
		newLines := append([]string(nil), oldLines...)
		for i, n := 0, rapid.IntRange(0, 4).Draw(t, "edits"); i < n; i++ {
			at := rapid.IntRange(0, len(newLines)).Draw(t, "at")
			switch op := rapid.IntRange(0, 2).Draw(t, "op"); {
			case op == 0 || at == len(newLines):
				newLines = append(newLines[:at], append([]string{line.Draw(t, "insert")}, newLines[at:]...)...)
			case op == 1:
				newLines = append(newLines[:at], newLines[at+1:]...)
			default:
				newLines[at] = line.Draw(t, "replace")
			}
		}
		old, new := joinNoInnerUnterminated(oldLines), joinNoInnerUnterminated(newLines)
		d := UnifiedDiff("f", []byte(old), []byte(new))
		if old == new {
			if d != "" {
				t.Fatalf("equal files gave %q", d)
			}
			return
		}
		got, err := applyUnified(old, d)
		if err != nil {
			t.Fatalf("%v\n%s", err, d)
		}
		if got != new {
			t.Fatalf("applied diff gives %q, want %q\n%s", got, new, d)
		}
	})
}

// joinNoInnerUnterminated joins lines; a line without a newline can only
// be the last one.
func joinNoInnerUnterminated(lines []string) string {
	var sb strings.Builder
	for i, l := range lines {
		if i < len(lines)-1 && !strings.HasSuffix(l, "\n") {
			l += "\n"
		}
		sb.WriteString(l)
	}
	return sb.String()
}

var hunkHeader = regexp.MustCompile(`^@@ -(\d+),(\d+) \+(\d+),(\d+) @@$`)

// applyUnified applies a unified diff produced by UnifiedDiff to old,
// checking the hunk headers' counts and context lines.
func applyUnified(old, diff string) (string, error) {
	oldLines := splitLines([]byte(old))
	lines := strings.SplitAfter(diff, "\n")
	if len(lines) < 3 || lines[0] != "--- a/f\n" || lines[1] != "+++ b/f\n" {
		return "", fmt.Errorf("bad header")
	}
	var out []string
	pos := 0 // next old line to copy
	i := 2
	for i < len(lines) && lines[i] != "" {
		m := hunkHeader.FindStringSubmatch(strings.TrimSuffix(lines[i], "\n"))
		if m == nil {
			return "", fmt.Errorf("line %d: not a hunk header: %q", i, lines[i])
		}
		oldStart, _ := strconv.Atoi(m[1])
		oldCount, _ := strconv.Atoi(m[2])
		newCount, _ := strconv.Atoi(m[4])
		start := oldStart - 1
		if oldCount == 0 {
			start = oldStart
		}
		if start < pos {
			return "", fmt.Errorf("hunks overlap")
		}
		out = append(out, oldLines[pos:start]...)
		pos = start
		i++
		seenOld, seenNew := 0, 0
		var runs []int // lengths of the runs of context lines, 0 between changes
		run := 0
		for i < len(lines) && lines[i] != "" && !strings.HasPrefix(lines[i], "@@") {
			l := lines[i]
			i++
			text := l[1:]
			if i < len(lines) && lines[i] == "\\ No newline at end of file\n" {
				text = strings.TrimSuffix(text, "\n")
				i++
			}
			if l[0] == ' ' {
				run++
			} else if run > 0 || len(runs) == 0 {
				runs, run = append(runs, run), 0
			}
			switch l[0] {
			case ' ', '-':
				if pos >= len(oldLines) || oldLines[pos] != text {
					return "", fmt.Errorf("old line %d is %q, diff says %q", pos+1, oldLines[min(pos, len(oldLines)-1)], text)
				}
				pos++
				seenOld++
				if l[0] == ' ' {
					out = append(out, text)
					seenNew++
				}
			case '+':
				out = append(out, text)
				seenNew++
			default:
				return "", fmt.Errorf("bad line %q", l)
			}
		}
		runs = append(runs, run)
		for j, r := range runs {
			limit := 2 * diffContext
			if j == 0 || j == len(runs)-1 {
				limit = diffContext
			}
			if r > limit {
				return "", fmt.Errorf("a hunk has %d lines of context in a row", r)
			}
		}
		if seenOld != oldCount || seenNew != newCount {
			return "", fmt.Errorf("hunk counts %d,%d, lines %d,%d", oldCount, newCount, seenOld, seenNew)
		}
	}
	out = append(out, oldLines[pos:]...)
	return strings.Join(out, ""), nil
}
