package awsclient

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
)

func TestNotImplementedTellsAnUnknownOperationFromAFailure(t *testing.T) {
	for name, tc := range map[string]struct {
		status int
		body   string
		want   bool
	}{
		"an emulator's error page":     {500, "<!doctype html>\n<html><title>500 Internal Server Error</title></html>", true},
		"501":                          {501, "", true},
		"an AWS internal failure":      {500, `<ErrorResponse><Error><Type>Receiver</Type><Code>InternalFailure</Code><Message>x</Message></Error></ErrorResponse>`, false},
		"an AWS NotImplemented":        {400, `<ErrorResponse><Error><Type>Sender</Type><Code>NotImplemented</Code><Message>x</Message></Error></ErrorResponse>`, true},
		"access denied is not unknown": {403, `<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>x</Message></Error></ErrorResponse>`, false},
	} {
		t.Run(name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(tc.status)
				_, _ = w.Write([]byte(tc.body))
			}))
			defer srv.Close()
			c := autoscaling.New(autoscaling.Options{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL), RetryMaxAttempts: 1,
				Credentials: aws.AnonymousCredentials{}})
			_, err := c.DescribeInstanceRefreshes(context.Background(), &autoscaling.DescribeInstanceRefreshesInput{AutoScalingGroupName: aws.String("g")})
			if err == nil {
				t.Fatal("no error")
			}
			if got := NotImplemented(err); got != tc.want {
				t.Fatalf("NotImplemented(%v) = %v, want %v", err, got, tc.want)
			}
		})
	}
}
