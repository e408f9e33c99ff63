package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/envmig/envmig/internal/clitest"
	"github.com/envmig/envmig/planner/plan"
	"github.com/envmig/envmig/statefile"
)

// Only the reviewed plan runs: a plan that the spec in the working
// directory does not give is refused before envmig makes any AWS call
// (not even a read) and before any check command runs, whether it comes as
// a plan file (apply) or in a journal (resume).

// withCheck is the demo spec with one more command check, whose command
// creates marker.
func withCheck(marker string) string {
	const anchor = `      command "clone-is-up" {`
	spec := clitest.ShopSpec("rename-swap")
	if !strings.Contains(spec, anchor) {
		panic("the demo spec no longer has the check " + anchor)
	}
	extra := "      command \"exfiltrate\" {\n        run = \"touch '" + marker + "'\"\n      }\n"
	return strings.Replace(spec, anchor, extra+anchor, 1)
}

// refusedBeforeAnything runs args and requires exit 1 with want in the
// message, no AWS call at all and marker absent.
func refusedBeforeAnything(t *testing.T, c *clitest.CLI, marker, want string, args ...string) {
	t.Helper()
	c.Calls()
	r := c.Must(exitError, args...)
	if !strings.Contains(r.Stderr, want) {
		t.Fatalf("the refusal does not say %q:\n%s", want, r)
	}
	if calls := c.Calls(); len(calls) != 0 {
		t.Fatalf("a refused plan made %d AWS calls (%v): it must be refused before any", len(calls), calls)
	}
	if marker != "" {
		if _, err := os.Stat(marker); err == nil {
			t.Fatal("a check command the reviewed spec does not have ran")
		}
	}
}

// journalOf writes an unfinished journal of p (its first step done) into
// c's state directory, as a killed apply of p would have left it.
func journalOf(t *testing.T, c *clitest.CLI, p *plan.Plan) {
	t.Helper()
	st := statefile.NewState(p, "apply", time.Now().UTC())
	st.Steps[0].Status = statefile.StepDone
	if err := statefile.Open(filepath.Join(c.Dir, stateDir), p.Environment).Save(st); err != nil {
		t.Fatal(err)
	}
}

func readPlanFile(t *testing.T, path string) *plan.Plan {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	p, err := plan.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func resealPlanFile(t *testing.T, path string, p *plan.Plan) {
	t.Helper()
	var buf bytes.Buffer
	if err := plan.Encode(&buf, p); err != nil { // seals: a recomputed digest
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestPlanFromAnotherSpecIsRefusedAndItsCheckNeverRuns(t *testing.T) {
	clitest.SeedShop(t)
	marker := filepath.Join(t.TempDir(), "PWNED")
	other := newCLI(t, withCheck(marker))
	other.Must(exitChanges, "plan", "-detailed-exitcode", "-out", "plan.json")
	other.Calls()
	p := readPlanFile(t, filepath.Join(other.Dir, "plan.json"))
	if _, ok := p.Step("verify.command.exfiltrate"); !ok {
		t.Fatal("the other spec's plan lacks its extra check: the test proves nothing")
	}

	reviewed := newCLI(t, clitest.ShopSpec("rename-swap"))
	resealPlanFile(t, filepath.Join(reviewed.Dir, "plan.json"), p)
	refusedBeforeAnything(t, reviewed, marker, "is not the plan the spec in", "apply", "-auto-approve", "plan.json")

	// The same plan met in a journal (a run begun elsewhere) is not resumed.
	journalOf(t, reviewed, p)
	refusedBeforeAnything(t, reviewed, marker, "is not the plan the spec in", "resume", "-auto-approve")

	// Where it was planned, the check does run: the marker proves it.
	other.Must(0, "apply", "-auto-approve", "plan.json")
	if _, err := os.Stat(marker); err != nil {
		t.Fatalf("the check command never ran where its spec is, so its absence above proves nothing: %v", err)
	}
	other.Calls()
}

func TestForgedDeleteStepWithARecomputedDigestIsRefused(t *testing.T) {
	cl := clitest.SeedShop(t)
	const victim = "someone-elses-bucket"
	ctx := context.Background()
	if _, err := cl.S3.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(victim)}); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.S3.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(victim), Key: aws.String("precious"), Body: strings.NewReader("data")}); err != nil {
		t.Fatal(err)
	}
	c := newCLI(t, clitest.ShopSpec("rename-swap"))
	c.Must(exitChanges, "plan", "-detailed-exitcode", "-out", "plan.json")
	path := filepath.Join(c.Dir, "plan.json")
	p := readPlanFile(t, path)
	p.Steps = append(p.Steps, plan.Step{ID: "bucket.delete.victim", Phase: plan.PhaseCommit, Action: plan.BucketDelete,
		Description: "Empty and delete bucket " + victim, Params: plan.BucketDeleteParams{Bucket: victim}})
	resealPlanFile(t, path, p)
	if _, err := plan.Decode(bytes.NewReader(must(os.ReadFile(path)))); err != nil {
		t.Fatalf("the forged plan's digest does not verify, so the test does not reach the contract: %v", err)
	}

	want := "the plan has step bucket.delete.victim (bucket.delete) that the spec does not give"
	refusedBeforeAnything(t, c, "", want, "apply", "-auto-approve", "plan.json")
	journalOf(t, c, p)
	refusedBeforeAnything(t, c, "", want, "resume", "-auto-approve")

	if got := clitest.BucketObjects(t, cl, victim); len(got) != 1 {
		t.Fatalf("the bucket the spec does not name holds %v", got)
	}
}

func TestUnknownActionIsRefusedWhenThePlanIsRead(t *testing.T) {
	clitest.SeedShop(t)
	c := newCLI(t, clitest.ShopSpec("rename-swap"))
	c.Must(exitChanges, "plan", "-detailed-exitcode", "-out", "plan.json")
	path := filepath.Join(c.Dir, "plan.json")
	b := must(os.ReadFile(path))
	// The step's action is read before the digest is checked: an unknown
	// action is refused whatever the digest says.
	forged := bytes.Replace(b, []byte(`"action": "bucket.copy"`), []byte(`"action": "bucket.copy-everywhere"`), 1)
	if bytes.Equal(forged, b) {
		t.Fatal("the plan has no bucket.copy step to change")
	}
	if err := os.WriteFile(path, forged, 0o600); err != nil {
		t.Fatal(err)
	}
	refusedBeforeAnything(t, c, "", `unknown action "bucket.copy-everywhere"`, "apply", "-auto-approve", "plan.json")
	refusedBeforeAnything(t, c, "", `unknown action "bucket.copy-everywhere"`, "show", "plan.json")
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
