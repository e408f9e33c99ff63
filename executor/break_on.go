//go:build crashtest

package executor

import "os"

// Broken reports whether BreakEnv names what: the handler of that name
// must then misbehave as BreakEnv's documentation says.
func Broken(what string) bool { return os.Getenv(BreakEnv) == what }
