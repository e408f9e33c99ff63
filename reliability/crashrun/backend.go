package crashrun

import (
	"testing"
	"time"

	"github.com/envmig/envmig/internal/awsclient"
	"github.com/envmig/envmig/internal/clitest"
)

// Backend is where the crash cases' runs keep their journal and lock: the
// local .envmig directory (Local), or the S3 state backend (S3).
type Backend struct{ s3 bool }

var (
	Local = Backend{}
	S3    = Backend{s3: true}
)

// stateLeaseEnv shortens the S3 state lock's lease in the crashtest build
// (cmd/envmig's stateLeaseEnv): a killed holder's lock is taken over
// seconds after the kill rather than minutes.
const stateLeaseEnv = "ENVMIG_TEST_STATE_LEASE"

// s3Lease is the lease of the killed runs' S3 lock.
const s3Lease = "3s"

// setup makes the working directory (and, for S3, the state bucket and
// the proxy that makes moto's conditional writes atomic) and returns the
// environment every run of the case gets.
func (b Backend) setup(t *testing.T, cl *awsclient.Clients, spec string) (*clitest.CLI, []string) {
	if !b.s3 {
		return clitest.New(t, clitest.Bins.Envmig, spec), nil
	}
	clitest.CreateStateBucket(t, cl)
	env := []string{"AWS_ENDPOINT_URL=" + clitest.AtomicS3(t)}
	c := clitest.New(t, clitest.Bins.Envmig, clitest.WithS3State(spec))
	c.Env = env
	return c, env
}

// crashEnv is the killed run's extra environment.
func (b Backend) crashEnv() []string {
	if !b.s3 {
		return nil
	}
	return []string{stateLeaseEnv + "=" + s3Lease}
}

// observe is what sc compares, without the state bucket, whose journal
// changes with every run by design.
func (b Backend) observe(t *testing.T, cl *awsclient.Clients, sc Scenario) World {
	w := sc.Observe(t, cl)
	w.World = clitest.WithoutStateBucket(w.World)
	return w
}

// recover is the arguments of a recovery command after a kill. A killed
// holder's S3 lock is taken over only once its lease has expired: the
// recovery waits for it.
func (b Backend) recover(command string) []string {
	args := []string{command, "-auto-approve"}
	if b.s3 {
		args = append(args, "-lock-timeout", "1m")
	}
	return args
}

// logRecovery logs how long a recovery ran in S3, where it first waits
// for the killed holder's lease.
func (b Backend) logRecovery(t *testing.T, what string, r clitest.Result) {
	t.Helper()
	if b.s3 {
		t.Logf("%s ran %s (the killed run's lease is %s)", what, r.Elapsed.Round(100*time.Millisecond), s3Lease)
	}
}

// check is what the backend must show once the recovery finished. In S3:
// every version of the journal decodes, their serials strictly increase in
// the order S3 kept them (the latest holds the highest), the journal was
// never deleted, and no lock object is left.
func (b Backend) check(t *testing.T, cl *awsclient.Clients) {
	t.Helper()
	if !b.s3 {
		return
	}
	vs := clitest.JournalHistory(t, cl, "production")
	if clitest.StateLockLeft(t, cl, "production") {
		t.Fatal("a state lock object is left after the recovery finished")
	}
	t.Logf("journal in S3: %d versions, serials %d..%d", len(vs), vs[0].State.Serial, vs[len(vs)-1].State.Serial)
}
