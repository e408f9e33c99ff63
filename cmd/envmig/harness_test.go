package main

import (
	"os"
	"testing"

	"github.com/envmig/envmig/internal/clitest"
)

// The end-to-end tests drive the built binary through the command line,
// against moto, as a user would (internal/clitest).

func TestMain(m *testing.M) { os.Exit(clitest.Main(m)) }

func newCLI(t *testing.T, spec string) *clitest.CLI { return clitest.New(t, clitest.Bins.Envmig, spec) }
