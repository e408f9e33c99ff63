//go:build crashtest

package executor

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
)

var crashHook = armCrash(os.Getenv(CrashEnv))

func armCrash(spec string) func(op, stepID, point string) {
	if spec == "" {
		return nil
	}
	parts := strings.Split(spec, ":")
	if len(parts) < 3 {
		panic(fmt.Sprintf("%s=%q: want OP:STEP:POINT[:N]", CrashEnv, spec))
	}
	want := int64(1)
	if len(parts) == 4 {
		n, err := strconv.ParseInt(parts[3], 10, 64)
		if err != nil || n < 1 {
			panic(fmt.Sprintf("%s=%q: bad count", CrashEnv, spec))
		}
		want = n
	}
	var seen atomic.Int64
	return func(op, stepID, point string) {
		if op != parts[0] || (parts[1] != "*" && parts[1] != stepID) || point != parts[2] {
			return
		}
		if seen.Add(1) == want {
			fmt.Fprintf(os.Stderr, "crashtest: killing envmig at %s\n", spec)
			_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
			select {} // never returns
		}
	}
}
