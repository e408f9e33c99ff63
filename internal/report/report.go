// Package report carries the reliability suites' figures to
// docs/RELIABILITY.md: each suite calls Figures, which logs them and, when
// ENVMIG_RELIABILITY_REPORT names a file, appends them as one JSON line;
// scripts/reliability-report turns the lines into the table.
package report

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
)

// Full reports whether the suites run at full size (ENVMIG_RELIABILITY=full,
// `make reliability`) rather than the sample `make test` runs.
func Full() bool { return os.Getenv("ENVMIG_RELIABILITY") == "full" }

// Line is one suite's figures.
type Line struct {
	Suite   string         `json:"suite"`
	Full    bool           `json:"full"`
	Figures map[string]any `json:"figures"`
	// Failed is true when the suite's test had failed when it reported
	// (a case of it failed): such figures are never published.
	Failed bool `json:"failed,omitempty"`
}

// Failures says why figures must not be published: the suite failed, or
// one of its figures named "failed" is not zero ("" when neither).
func (l Line) Failures() string {
	var why []string
	if l.Failed {
		why = append(why, "its test failed")
	}
	if v, ok := l.Figures["failed"]; ok && fmt.Sprint(v) != "0" {
		why = append(why, fmt.Sprintf("failed = %v", v))
	}
	return strings.Join(why, ", ")
}

// Figures logs a suite's figures and appends them to the report file.
func Figures(t testing.TB, suite string, figures map[string]any) {
	t.Helper()
	b, err := json.Marshal(Line{Suite: suite, Full: Full(), Figures: figures, Failed: t.Failed()})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("figures: %s", b)
	path := os.Getenv("ENVMIG_RELIABILITY_REPORT")
	if path == "" {
		return
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := fmt.Fprintf(f, "%s\n", b); err != nil {
		t.Fatal(err)
	}
}
