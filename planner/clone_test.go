package planner

import (
	"strings"
	"testing"

	"github.com/envmig/envmig/config"
)

// TestCloneNamesLeaveTheMigrationsNamesFree: a clone may not be named so
// that its copies take the names the environment's migrations give their
// temporaries, with the default suffix or the spec's own.
func TestCloneNamesLeaveTheMigrationsNamesFree(t *testing.T) {
	for _, c := range []struct {
		suffix, name string
		ok           bool
	}{
		{"", "exp1", true},
		{"", "envmig", false},
		{"", "envmig-old", false},
		{"", "envmig-2", true},
		{"-tmp", "tmp", false},
		{"-tmp", "tmp-old", false},
		{"-tmp", "envmig", true},
		{"", "Bad_Name", false},
	} {
		env := &config.Environment{Name: "production", Migration: config.Migration{TemporarySuffix: c.suffix}}
		err := CheckCloneName(env, c.name)
		if (err == nil) != c.ok {
			t.Errorf("suffix %q, name %q: %v, want ok=%v", c.suffix, c.name, err, c.ok)
		}
		if err != nil && c.name != "Bad_Name" && !strings.Contains(err.Error(), "temporary copies") {
			t.Errorf("suffix %q, name %q: %v does not say why", c.suffix, c.name, err)
		}
	}
}
