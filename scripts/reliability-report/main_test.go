package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The report step never publishes the figures of a run where a suite
// failed: it names the failure, leaves the page as it was and exits 1.
func TestFailingFiguresAreRefusedAndThePageKept(t *testing.T) {
	const kept = "# the figures of the last run that passed\n"
	cases := map[string]struct {
		lines   string
		code    int
		says    string
		written bool
	}{
		"every suite passed": {`{"suite":"C","full":true,"figures":{"failed":0,"recovered":12}}
{"suite":"B","full":true,"figures":{"cases":60,"passed":60}}`, 0, "suite C passed", true},
		"a crash case failed": {`{"suite":"C","full":true,"figures":{"failed":3,"recovered":9}}
{"suite":"B","full":true,"figures":{"cases":60,"passed":60}}`, 1, "suite C FAILED (failed = 3)", false},
		"a suite's test failed": {`{"suite":"B","full":true,"figures":{"cases":60,"passed":59},"failed":true}`, 1, "suite B FAILED (its test failed)", false},
		"no figures at all":     {``, 1, "holds no figures", false},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			in, out := filepath.Join(dir, "figures.jsonl"), filepath.Join(dir, "RELIABILITY.md")
			os.WriteFile(in, []byte(tc.lines), 0o644)
			os.WriteFile(out, []byte(kept), 0o644)
			var stdout, stderr bytes.Buffer
			code := run([]string{"-in", in, "-out", out}, &stdout, &stderr)
			if code != tc.code {
				t.Fatalf("exit %d, want %d\n%s%s", code, tc.code, stdout.String(), stderr.String())
			}
			if !strings.Contains(stdout.String()+stderr.String(), tc.says) {
				t.Fatalf("the report does not say %q:\n%s%s", tc.says, stdout.String(), stderr.String())
			}
			b, _ := os.ReadFile(out)
			if written := string(b) != kept; written != tc.written {
				t.Fatalf("page written = %t, want %t", written, tc.written)
			}
			if tc.written && !strings.Contains(string(b), "| recovered | 12 |") {
				t.Fatalf("the page lacks the figures:\n%s", b)
			}
			// -check never writes.
			os.WriteFile(out, []byte(kept), 0o644)
			if c := run([]string{"-in", in, "-out", out, "-check"}, &stdout, &stderr); c != tc.code {
				t.Fatalf("-check: exit %d, want %d", c, tc.code)
			}
			if b, _ := os.ReadFile(out); string(b) != kept {
				t.Fatal("-check wrote the page")
			}
		})
	}
}
