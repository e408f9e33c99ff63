package reliability

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/envmig/envmig/executor"
	"github.com/envmig/envmig/internal/clitest"
	"github.com/envmig/envmig/statefile"
)

// Suites K (concurrency) and S (security).
//
// Suite K's runs keep their journal in the local .envmig directory. With
// the S3 state backend, two applies racing on one plan are
// cmd/envmig's TestTwoRunnersRaceOneS3Backend (not repeated here), and a
// killed holder's lock is taken over after its lease in TestCrashSuiteS3 (reliability/crashs3).

func TestConcurrencySuite(t *testing.T) {
	figures := map[string]any{}
	clitest.SeedShop(t)
	c := clitest.New(t, clitest.Bins.Envmig, clitest.ShopSpec("rename-swap"))
	c.Must(2, "plan", "-detailed-exitcode", "-out", "plan.json")

	// A second apply while another process holds the lock: refused at once,
	// naming the holder.
	holder := statefile.Open(filepath.Join(c.Dir, ".envmig"), "production")
	lock, err := holder.Lock(context.Background(), statefile.LockInfo{Operation: "apply", Run: "other"}, 0)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	r := c.Must(3, "apply", "-auto-approve", "plan.json")
	figures["second apply refused after"] = time.Since(start).Round(time.Millisecond).String()
	if time.Since(start) > time.Second*3 || !strings.Contains(r.Stderr, "pid "+strconv.Itoa(os.Getpid())) || !strings.Contains(r.Stderr, lock.Info().ID) {
		t.Fatalf("the second apply was not refused promptly naming the holder:\n%s", r)
	}

	// -lock-timeout waits for the holder; meanwhile AWS changes, so the plan
	// that was current when it started waiting is stale once it gets the lock.
	done := make(chan struct{})
	go func() {
		defer close(done)
		time.Sleep(300 * time.Millisecond)
		modify(t, "db.t3.small")
		lock.Unlock()
	}()
	r = c.Must(4, "apply", "-auto-approve", "-lock-timeout", "20s", "plan.json")
	<-done
	if !strings.Contains(r.Stderr, "stale") {
		t.Fatalf("after waiting for the lock, the stale plan was not refused:\n%s", r)
	}
	figures["stale after -lock-timeout refused"] = true
	modify(t, "db.t3.medium")

	// A holder killed with SIGKILL leaves its lock: the next run takes it
	// over by itself.
	c.Must(2, "plan", "-detailed-exitcode", "-out", "plan.json")
	c.Bin = clitest.Bins.Crash
	c.Env = []string{executor.CrashEnv + "=apply:db.snapshot.main:waiting"}
	if r := c.Run("apply", "-auto-approve", "plan.json"); !r.Killed {
		t.Fatalf("not killed:\n%s", r)
	}
	c.Bin, c.Env = clitest.Bins.Envmig, nil
	r = c.Must(0, "rollback", "-auto-approve")
	if !strings.Contains(r.Stderr, "Took over the lock") {
		t.Fatalf("the dead holder's lock was not taken over:\n%s", r)
	}
	figures["lock of a killed holder taken over"] = true
	c.Calls()
	clitest.Report(t, "K", figures)
}

func TestSecuritySuite(t *testing.T) {
	figures := map[string]int{}
	check := func(name string, f func(t *testing.T)) {
		figures["cases"]++
		if t.Run(name, f) {
			figures["passed"]++
		}
	}

	check("wrong account refused", func(t *testing.T) {
		clitest.SeedShop(t)
		c := clitest.New(t, clitest.Bins.Envmig, strings.Replace(clitest.ShopSpec("rename-swap"), `"123456789012"`, `"111111111111"`, 1))
		r := c.Must(1, "plan")
		if !strings.Contains(r.Stderr, "123456789012 is not in allowed_account_ids") {
			t.Fatalf("%s", r)
		}
		if m := clitest.Mutating(c.Calls()); len(m) != 0 {
			t.Fatalf("mutating calls: %v", m)
		}
	})
	check("identity unreadable: fail closed", func(t *testing.T) {
		clitest.SeedShop(t)
		c := clitest.New(t, clitest.Bins.Envmig, clitest.ShopSpec("rename-swap"))
		c.Env = []string{"AWS_ENDPOINT_URL_STS=http://127.0.0.1:1", "AWS_MAX_ATTEMPTS=1"}
		r := c.Must(1, "plan")
		if !strings.Contains(r.Stderr, "refuses") && !strings.Contains(r.Stderr, "refusing") {
			t.Fatalf("%s", r)
		}
		c.Calls()
	})
	check("region mismatch refused", func(t *testing.T) {
		clitest.SeedShop(t)
		// A spec that leaves the region to the environment: the plan is
		// made in us-east-1, then applied with credentials for eu-west-1.
		spec := strings.Replace(clitest.ShopSpec("rename-swap"), `region              = "us-east-1"`, "", 1)
		c := clitest.New(t, clitest.Bins.Envmig, spec)
		c.Must(0, "plan", "-out", "plan.json")
		c.Env = []string{"AWS_REGION=eu-west-1"}
		r := c.Must(1, "apply", "-auto-approve", "plan.json")
		if !strings.Contains(r.Stderr, "made for region us-east-1") {
			t.Fatalf("%s", r)
		}
		if m := clitest.Mutating(c.Calls()); len(m) != 0 {
			t.Fatalf("mutating calls: %v", m)
		}
	})
	check("non-TTY apply without -auto-approve refused", func(t *testing.T) {
		clitest.SeedShop(t)
		c := clitest.New(t, clitest.Bins.Envmig, clitest.ShopSpec("rename-swap"))
		c.Must(5, "apply")
		c.Calls()
	})
	check("no secret anywhere, with debug logging and a crash", func(t *testing.T) {
		const awsSecret = "Secret-Access-Key-Canary-0f9e8d"
		const sensitive = "Sensitive-Var-Canary-7c6b5a"
		clitest.SeedShop(t)
		spec := "variable \"token\" {\n  default   = \"" + sensitive + "\"\n  sensitive = true\n}\n\nlocals {\n  token_upper = upper(var.token)\n}\n\n" + clitest.ShopSpec("rename-swap")
		c := clitest.New(t, clitest.Bins.Envmig, spec)
		// The spec itself holds the sensitive default: keep it out of the
		// directory that is searched.
		specDir := c.Dir
		c.Env = []string{"AWS_SECRET_ACCESS_KEY=" + awsSecret, "ENVMIG_LOG=debug"}
		var rs []clitest.Result
		rs = append(rs, c.Must(2, "plan", "-detailed-exitcode", "-out", "plan.json"))
		c.Bin = clitest.Bins.Crash
		c.Env = append(c.Env, executor.CrashEnv+"=apply:db.restore.main:accepted")
		rs = append(rs, c.Run("apply", "-auto-approve", "plan.json"))
		c.Bin = clitest.Bins.Envmig
		c.Env = c.Env[:2]
		rs = append(rs, c.Must(0, "status"), c.Must(0, "resume", "-auto-approve"), c.Must(0, "show", "-json", "plan.json"))
		if !strings.Contains(rs[0].Stderr, "debug: ") {
			t.Fatal("debug logging is not on")
		}
		secrets := []string{awsSecret, sensitive, clitest.CanaryPassword}
		clitest.NoSecrets(t, filepath.Join(specDir, ".envmig"), secrets, rs...)
		clitest.NoSecrets(t, filepath.Join(specDir, "plan.json"), secrets)
		c.Calls()
	})
	check("files 0600 and directories 0700 under umask 000", func(t *testing.T) {
		clitest.SeedShop(t)
		old := syscall.Umask(0)
		defer syscall.Umask(old)
		c := clitest.New(t, clitest.Bins.Envmig, clitest.ShopSpec("rename-swap"))
		c.Must(2, "plan", "-detailed-exitcode", "-out", "plan.json")
		c.Must(0, "apply", "-auto-approve", "plan.json")
		bad := 0
		filepath.Walk(filepath.Join(c.Dir, ".envmig"), func(path string, info os.FileInfo, err error) error {
			if err != nil {
				return err
			}
			want := os.FileMode(0o600)
			if info.IsDir() {
				want = 0o700
			}
			if info.Mode().Perm() != want {
				t.Errorf("%s is %v, want %v", path, info.Mode().Perm(), want)
				bad++
			}
			return nil
		})
		if fi, err := os.Stat(filepath.Join(c.Dir, "plan.json")); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("plan.json: %v %v", fi.Mode(), err)
		}
		c.Calls()
	})
	out := map[string]any{}
	for k, v := range figures {
		out[k] = v
	}
	out["IAM actions seen in this package"] = clitest.ActionsSeen()
	out["IAM actions missing from envmig iam-policy"] = len(clitest.PolicyMissing())
	clitest.Report(t, "S", out)
}
