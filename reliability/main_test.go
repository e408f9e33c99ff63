package reliability

import (
	"fmt"
	"os"
	"testing"

	"github.com/envmig/envmig/internal/clitest"
	"github.com/envmig/envmig/internal/testaws"
)

var bins *clitest.Binaries

func TestMain(m *testing.M) {
	var err error
	if bins, err = clitest.Build(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := testaws.Main(m)
	if missing := clitest.PolicyMissing(); len(missing) > 0 && code == 0 {
		fmt.Fprintf(os.Stderr, "FAIL: envmig iam-policy misses actions the suites needed: %v\n", missing)
		code = 1
	}
	bins.Remove()
	os.Exit(code)
}
