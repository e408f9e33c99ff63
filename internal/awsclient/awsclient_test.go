package awsclient

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// Found by the API fault suite: with the SDK's defaults (3 attempts and a
// client-side retry quota) a throttling burst or a long run of retries
// failed a migration for faults that were already over.
func TestRetryerRidesOutAThrottlingBurst(t *testing.T) {
	t.Setenv("ENVMIG_MAX_BACKOFF", "1ms")
	t.Setenv("AWS_MAX_ATTEMPTS", "")
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) <= 8 {
			w.WriteHeader(http.StatusBadRequest)
			w.Write([]byte(`<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error></ErrorResponse>`))
			return
		}
		w.Write([]byte(`<GetCallerIdentityResponse><GetCallerIdentityResult><Account>123456789012</Account></GetCallerIdentityResult></GetCallerIdentityResponse>`))
	}))
	defer srv.Close()
	t.Setenv("AWS_ENDPOINT_URL", srv.URL)
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	t.Setenv("AWS_CONFIG_FILE", "/dev/null")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
	ctx := context.Background()
	cfg, err := Load(ctx, Options{Region: "us-east-1"})
	if err != nil {
		t.Fatal(err)
	}
	// Many calls' worth of retries: no quota runs out.
	for i := 0; i < 3; i++ {
		calls.Store(0)
		out, err := sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
		if err != nil {
			t.Fatalf("call %d failed after %d attempts: %v", i, calls.Load(), err)
		}
		if aws.ToString(out.Account) != "123456789012" || calls.Load() != 9 {
			t.Fatalf("account %q after %d attempts", aws.ToString(out.Account), calls.Load())
		}
	}
	if got := Retryer(0).MaxAttempts(); got != DefaultMaxAttempts {
		t.Fatalf("max attempts = %d", got)
	}
	t.Setenv("AWS_MAX_ATTEMPTS", "4")
	if got := Retryer(0).MaxAttempts(); got != 4 {
		t.Fatalf("AWS_MAX_ATTEMPTS ignored: %d", got)
	}
}

// The switches' services: their SDK service IDs are not their IAM
// prefixes.
func TestIAMPrefixOfTheSwitchesServices(t *testing.T) {
	for id, want := range map[string]string{
		"EventBridge": "events", "Scheduler": "scheduler", "ECS": "ecs", "Lambda": "lambda", "EC2": "ec2",
		"Elastic Load Balancing v2": "elasticloadbalancing", "Elastic Load Balancing": "elasticloadbalancing",
		"Application Auto Scaling": "application-autoscaling", "Auto Scaling": "autoscaling",
	} {
		if got := IAMPrefix(id); got != want {
			t.Errorf("IAMPrefix(%q) = %q, want %q", id, got, want)
		}
	}
}
