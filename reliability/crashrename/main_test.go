package crashrename

import (
	"os"
	"testing"

	"github.com/envmig/envmig/internal/clitest"
)

func TestMain(m *testing.M) { os.Exit(clitest.Main(m)) }
