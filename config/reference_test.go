package config

import (
	"bufio"
	"os"
	"regexp"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestReferenceDocumentsEveryBlockAndAttribute keeps docs/configuration.md
// true: its "### `block.path`" sections and their attribute tables list
// exactly what the language accepts.
func TestReferenceDocumentsEveryBlockAndAttribute(t *testing.T) {
	f, err := os.Open("../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	heading := regexp.MustCompile("^### `([a-z0-9._]+)`")
	row := regexp.MustCompile("^\\| `([a-z_]+)` \\|")
	doc := map[string][]string{}
	section := ""
	s := bufio.NewScanner(f)
	for s.Scan() {
		line := s.Text()
		if m := heading.FindStringSubmatch(line); m != nil {
			section = m[1]
			doc[section] = nil
			continue
		}
		if len(line) > 0 && line[0] == '#' {
			section = ""
		}
		if m := row.FindStringSubmatch(line); m != nil && section != "" {
			doc[section] = append(doc[section], m[1])
		}
	}
	for k := range doc {
		slices.Sort(doc[k])
	}
	if diff := cmp.Diff(Reference(), doc); diff != "" {
		t.Fatalf("docs/configuration.md and the language differ (-language +docs):\n%s", diff)
	}
}
