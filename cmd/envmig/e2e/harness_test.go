package e2e

import (
	"os"
	"testing"

	"github.com/envmig/envmig/internal/clitest"
)

func TestMain(m *testing.M) { os.Exit(clitest.Main(m)) }

func newCLI(t *testing.T, spec string) *clitest.CLI { return clitest.New(t, clitest.Bins.Envmig, spec) }

// The exit codes of the command-line contract (DESIGN.md §4).
const (
	exitError   = 1
	exitChanges = 2
	exitLocked  = 3
)
