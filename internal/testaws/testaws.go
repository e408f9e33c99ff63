// Package testaws runs tests against a local AWS emulator (moto) through the
// real SDK clients.
//
// A package whose tests need AWS calls Main from its TestMain:
//
//	func TestMain(m *testing.M) { os.Exit(testaws.Main(m)) }
//
// Main uses the endpoint in ENVMIG_TEST_AWS_ENDPOINT when it is set;
// otherwise it starts moto's server (`python3 -m moto.server`, with the
// fidelity fix of motoServer) on a loopback port the kernel picks (the
// interpreter can be chosen with ENVMIG_PYTHON; a .venv at the module root is
// preferred when present), waits for it, runs the tests, and stops it by PID.
// It sets AWS_ENDPOINT_URL, static test credentials and AWS_REGION for the
// whole test process, so code under test resolves clients exactly as the
// product does.
//
// Tests call Require(t) (or Config/Clients, which call it): when no emulator
// could be started they fail with the reason, never pass silently. Tests that
// share the emulator call Reset(t) first and must not run in parallel with
// other tests of their package that use it.
package testaws

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/envmig/envmig/internal/awsclient"
)

// Region is the region every test uses.
const Region = "us-east-1"

// Account is moto's default account.
const Account = "123456789012"

var (
	endpoint string
	startErr error
)

// Main starts (or finds) the emulator, runs m, and stops what it started.
func Main(m *testing.M) int {
	stop, err := start()
	if err != nil {
		startErr = err
	}
	code := m.Run()
	if stop != nil {
		stop()
	}
	return code
}

// Endpoint returns the emulator's base URL.
func Endpoint() string { return endpoint }

// Require fails the test when the emulator is not available.
func Require(t testing.TB) {
	t.Helper()
	if startErr != nil {
		t.Fatalf("this test needs the local AWS emulator (moto): %v\nrun `make test`, or `pip install 'moto[server]'`, or set ENVMIG_TEST_AWS_ENDPOINT", startErr)
	}
	if endpoint == "" {
		t.Fatalf("this test needs the local AWS emulator: call testaws.Main from the package's TestMain")
	}
}

// Reset clears every resource in the emulator.
func Reset(t testing.TB) {
	t.Helper()
	Require(t)
	resp, err := http.Post(endpoint+"/moto-api/reset", "application/json", nil)
	if err != nil {
		t.Fatalf("reset moto: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("reset moto: %s", resp.Status)
	}
}

// Config returns an SDK configuration that reaches the emulator, resolved
// through the SDK's default chain like the product's. httpClient may be nil.
func Config(t testing.TB, httpClient aws.HTTPClient) aws.Config {
	t.Helper()
	Require(t)
	cfg, err := awsclient.Load(context.Background(), awsclient.Options{Region: Region, HTTPClient: httpClient})
	if err != nil {
		t.Fatalf("load AWS config: %v", err)
	}
	return cfg
}

// Clients returns every service client against the emulator.
func Clients(t testing.TB) *awsclient.Clients {
	t.Helper()
	return awsclient.New(Config(t, nil))
}

func start() (stop func(), err error) {
	setEnv := func(ep string) {
		endpoint = strings.TrimRight(ep, "/")
		os.Setenv("AWS_ENDPOINT_URL", endpoint)
		os.Setenv("AWS_ACCESS_KEY_ID", "test")
		os.Setenv("AWS_SECRET_ACCESS_KEY", "test")
		os.Unsetenv("AWS_SESSION_TOKEN")
		os.Unsetenv("AWS_PROFILE")
		os.Setenv("AWS_REGION", Region)
		os.Setenv("AWS_EC2_METADATA_DISABLED", "true")
		// Never read the developer's real ~/.aws files in tests.
		os.Setenv("AWS_CONFIG_FILE", os.DevNull)
		os.Setenv("AWS_SHARED_CREDENTIALS_FILE", os.DevNull)
	}
	if ep := os.Getenv("ENVMIG_TEST_AWS_ENDPOINT"); ep != "" {
		setEnv(ep)
		return nil, waitReady(endpoint, 10*time.Second)
	}
	// moto binds a port the kernel picks (-p 0) and names it in its log: a
	// port picked beforehand could be taken, between the pick and moto's
	// bind, by any connection of the tests running beside this process.
	py := python()
	cmd := exec.Command(py, "-c", motoServer, "-H", "127.0.0.1", "-p", "0")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	logf, _ := os.CreateTemp("", "envmig-moto-*.log")
	if logf != nil {
		cmd.Stdout, cmd.Stderr = logf, logf
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s -m moto.server: %w", py, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stop = func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-exited
		}
		if logf != nil {
			logf.Close()
			os.Remove(logf.Name())
		}
	}
	if logf == nil {
		stop()
		return nil, errors.New("start moto: no log file to read its port from")
	}
	var ep string
	ready := make(chan error, 1)
	go func() {
		var err error
		if ep, err = waitListening(logf.Name(), 60*time.Second); err == nil {
			err = waitReady(ep, 60*time.Second)
		}
		ready <- err
	}()
	select {
	case err := <-ready:
		if err != nil {
			stop()
			return nil, err
		}
	case err := <-exited:
		exited <- err // let stop's receive succeed
		tail := ""
		if logf != nil {
			b, _ := os.ReadFile(logf.Name())
			tail = lastLines(string(b), 5)
		}
		stop()
		return nil, fmt.Errorf("%s -m moto.server exited at start (%v): %s", py, err, tail)
	}
	setEnv(ep)
	return stop, nil
}

func waitReady(ep string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	client := &http.Client{Timeout: 2 * time.Second}
	delay := 20 * time.Millisecond
	for {
		resp, err := client.Get(ep + "/moto-api/data.json")
		if err == nil {
			resp.Body.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("AWS emulator at %s not ready after %s: %w", ep, timeout, err)
		}
		time.Sleep(delay)
		if delay < 200*time.Millisecond {
			delay *= 2
		}
	}
}

// listening is the line of moto's log (werkzeug's) naming its address.
var listening = regexp.MustCompile(`Running on (http://127\.0\.0\.1:[0-9]+)`)

// waitListening reads moto's log until it names the address it listens on.
func waitListening(log string, timeout time.Duration) (string, error) {
	deadline := time.Now().Add(timeout)
	for {
		b, _ := os.ReadFile(log)
		if m := listening.FindSubmatch(b); m != nil {
			return string(m[1]), nil
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("moto did not say where it listens within %s: %s", timeout, lastLines(string(b), 5))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// motoServer runs moto's server with one fidelity fix: S3 deletes a
// bucket's tags with the bucket, moto kept them for the next bucket of that
// name (a bucket re-created by a region move came back with the old one's
// tags). The fix is skipped when moto's internals differ.
const motoServer = `import sys
from moto.s3 import models

_delete_bucket = getattr(models.S3Backend, "delete_bucket", None)

def delete_bucket(self, bucket_name):
    bucket = _delete_bucket(self, bucket_name)
    tagger = getattr(self, "tagger", None)
    if bucket is not None and tagger is not None and getattr(bucket, "arn", None):
        tagger.delete_all_tags_for_resource(bucket.arn)
    return bucket

if _delete_bucket is not None:
    models.S3Backend.delete_bucket = delete_bucket

from moto.server import main
main(sys.argv[1:])
`

// python picks the interpreter: ENVMIG_PYTHON, then the module root's
// .venv, then python3.
func python() string {
	if p := os.Getenv("ENVMIG_PYTHON"); p != "" {
		return p
	}
	if root, err := ModuleRoot(); err == nil {
		venv := filepath.Join(root, ".venv", "bin", "python")
		if _, err := os.Stat(venv); err == nil {
			return venv
		}
	}
	return "python3"
}

// ModuleRoot is the directory of the go.mod above the working directory.
func ModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}
