// Command reliability-report turns the figures the reliability suites wrote
// (one JSON line per suite, see internal/report) into docs/RELIABILITY.md.
package main

import (
	"bufio"
	_ "embed"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/envmig/envmig/internal/report"
)

// suites describes each suite, in the order of the page.
var suites = []struct{ id, title, promise string }{
	{"C", "Crash (C)", "envmig is killed with SIGKILL at the crash points of every step (before the intent is journaled, after it, after AWS accepted the call, while waiting); `resume`, and before the point of no return `rollback`, must converge: after a rollback the world is exactly as before; after a resume it is migrated with every object identical (key, size, ETag, content type, metadata, tags), the group restored exactly and no duplicate snapshot; the recovery takes over the killed run's lock by itself. The cases run in two halves side by side (every other case each), so the suite has two tables, one per half. The same runner kills two more plans, `clone-swap` and a versioned bucket's move to another region (the next two sections)."},
	{"C-S3", "Crash, S3 state backend (C-S3)", "Suite C with the journal and the lock in the S3 state backend (a versioned, encrypted, private state bucket in the emulator, its conditional writes made atomic as S3's are): the killed run held the lock with a lease of a few seconds, and the recovery waits for the lease to expire and takes the lock over by itself. The same invariants as suite C, and once the recovery finished every version of the journal object decodes (format, checksum), their serials strictly increase in the order S3 kept them, the journal was never deleted, and no lock object is left. The CI sample kills the first snapshot after its intent and after AWS accepted it (recovered by resume and by rollback), and the first rename after the point of no return and the group's return to service after AWS accepted them (recovered by resume); the full suite kills every step at every point. Two applies of one plan racing on one S3 backend (exactly one runs, the other exits 3 naming the holder) are checked by `TestTwoRunnersRaceOneS3Backend` in `cmd/envmig`, not here."},
	{"C-clone-swap", "Crash, clone-swap (C)", "The same kills and recoveries on the demo's plan under `clone-swap`; the CI sample kills, after the point of no return, the original database's delete (after its intent is journaled, after AWS accepted it), the restore into the original name (accepted) and the final copy back into the original bucket (while it copies). After a resume the database is back under its name with the spec's settings and no clone, the run's four snapshots exist once each, the original bucket holds exactly its objects, the temporary bucket is gone and the group is restored exactly."},
	{"C-region", "Crash, region move (C)", "The same kills and recoveries on the move of a versioned bucket (a noncurrent version, a delete marker, lifecycle, CORS and tags) to another region under its name; the CI sample kills, after the point of no return, the original's emptying and delete (after S3 accepted a batch), its re-creation in the new region (after the intent, after AWS accepted it) and the copy back (accepted). After a resume the bucket is in the new region with every version and delete marker and its settings, everything else is as before, and the only resource added is the verified temporary copy, which a region move keeps until `cleanup`."},
	{"J", "Journal power loss (J)", "The journal is written through a filesystem model that loses every write no fsync made durable; every crash prefix of a 30-record run is rebooted and loaded."},
	{"J-control", "Journal power loss, negative controls", "Without the directory fsync (or the file fsync) the same enumeration must find a lost acknowledged record or an unloadable state."},
	{"F", "API faults (F)", "A proxy in front of the emulator injects 5xx (10 %), throttling bursts (20 % of requests), connection resets (5 %), slow responses, applied-but-lost responses (5 % of mutating calls) and NotFound right after a create (30 %). A run converges when resuming (or planning and applying again after an automatic rollback) ends migrated."},
	{"F-permanent", "API faults: permanent errors", "AccessDenied, InvalidDBInstanceState, quota exceeded, a refused Standby, a forbidden bucket: each ends in a clear message and a run rolled back by itself, and the same spec migrates once the cause is gone."},
	{"O", "Out-of-band changes (O)", "During the standby window an object is written to a source bucket, the original database is modified, or an instance is put back in service; each must be detected before the point of no return with nothing destroyed. A database or instance change rolls the run back by itself; a bucket change stops the run for the operator (it names the bucket and the first objects that changed), since `resume` can copy the difference and verify again; the suite then runs `rollback` and checks that the world is exactly as before, apart from the change itself. Writes inside database rows are not visible to RDS's API and are not part of this suite: `verify { command }` is the user's own data check (docs/migration-model.md)."},
	{"B", "Bad input (B)", "Malformed or misspelt specs, invalid names, plan files (empty, truncated, newer format, edited, reordered, other account, other region, already applied, stale) and journals (empty, truncated, newer format, edited, other environment, symlinked, world-writable): each gets its specific message and exit code, makes 0 mutating AWS calls, and leaves the state directory byte-identical."},
	{"K", "Concurrency (K)", "Two applies on one journal; -lock-timeout; a lock held by a killed process. With the journal in the S3 state backend, two applies of one plan racing (exactly one runs, the other exits 3 naming the holder) are checked by `TestTwoRunnersRaceOneS3Backend` in `cmd/envmig`, and a killed holder's lock taken over after its lease by suite C-S3."},
	{"S", "Security (S)", "Account allow-list and fail-closed identity, region mismatch, non-TTY apply, canary secrets (credentials, a sensitive variable, the database password) absent from plans, journals, output and debug logs even across a crash, file modes under umask 000, and the IAM policy covering every action the suites needed."},
}

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

// run writes the page, unless a suite failed: then it names the failing
// figures, leaves the page as it was and returns 1. With -check it only
// checks the figures and prints them.
func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("reliability-report", flag.ContinueOnError)
	fs.SetOutput(stderr)
	in := fs.String("in", "", "the JSON lines the suites wrote")
	out := fs.String("out", "docs/RELIABILITY.md", "the page to write")
	check := fs.Bool("check", false, "only check and print the figures; write nothing")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	lines, err := read(*in)
	if err != nil {
		fmt.Fprintln(stderr, "reliability-report:", err)
		return 1
	}
	failing := 0
	for _, l := range lines {
		b, _ := json.Marshal(l.Figures)
		status := "passed"
		if why := l.Failures(); why != "" {
			status, failing = "FAILED ("+why+")", failing+1
		}
		fmt.Fprintf(stdout, "suite %s %s: %s\n", l.Suite, status, b)
	}
	if failing > 0 {
		fmt.Fprintf(stderr, "reliability-report: %d suite(s) failed; %s is left as it was: its figures come only from runs where every suite passed\n", failing, *out)
		return 1
	}
	if len(lines) == 0 {
		fmt.Fprintf(stderr, "reliability-report: %s holds no figures; %s is left as it was\n", *in, *out)
		return 1
	}
	if *check {
		return 0
	}
	if err := os.WriteFile(*out, []byte(page(lines)), 0o644); err != nil {
		fmt.Fprintln(stderr, "reliability-report:", err)
		return 1
	}
	return 0
}

// page renders docs/RELIABILITY.md from the figures.
func page(lines []report.Line) string {
	var b strings.Builder
	host, _ := os.Hostname()
	full := true
	for _, l := range lines {
		full = full && l.Full
	}
	size := "full counts (`make reliability`)"
	if !full {
		size = "the CI sample (`make test`)"
	}
	fmt.Fprintf(&b, "# Reliability figures\n\n")
	fmt.Fprintf(&b, "Generated by `make reliability` on %s (%s, %d CPUs, %s), %s. Every figure below comes from that run; the suites live in `reliability/` and `statefile/` and run at a smaller size in `make test`.\n\n",
		time.Now().UTC().Format("2006-01-02"), host, runtime.NumCPU(), runtime.Version(), size)
	for _, s := range suites {
		var mine []report.Line
		for _, l := range lines {
			if l.Suite == s.id {
				mine = append(mine, l)
			}
		}
		fmt.Fprintf(&b, "## %s\n\n%s\n\n", s.title, s.promise)
		if len(mine) == 0 {
			fmt.Fprintf(&b, "_Not run._\n\n")
			continue
		}
		for _, l := range mine {
			fmt.Fprintf(&b, "| figure | value |\n|---|---|\n")
			keys := make([]string, 0, len(l.Figures))
			for k := range l.Figures {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				fmt.Fprintf(&b, "| %s | %v |\n", k, l.Figures[k])
			}
			b.WriteString("\n")
		}
	}
	b.WriteString(bugs)
	return b.String()
}

func read(path string) ([]report.Line, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []report.Line
	s := bufio.NewScanner(f)
	for s.Scan() {
		var l report.Line
		if err := json.Unmarshal(s.Bytes(), &l); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		out = append(out, l)
	}
	return out, s.Err()
}

// bugs is the record of what the suites found, kept with the figures.
//
//go:embed bugs.md
var bugs string
