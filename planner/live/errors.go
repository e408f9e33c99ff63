package live

import (
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/smithy-go"
)

// AccountError refuses to observe an account that the spec's
// allowed_account_ids does not list, or one that cannot be identified while
// such a list is set (fail closed). Callers branch on it with errors.As.
type AccountError struct {
	// Account is the caller's account, "" when it could not be read.
	Account string
	// Allowed is the spec's allow-list.
	Allowed []string
	// Err is why the identity could not be read (nil when it was read and
	// is not allowed).
	Err error
}

func (e *AccountError) Error() string {
	allowed := strings.Join(e.Allowed, ", ")
	if e.Err != nil {
		return fmt.Sprintf("cannot read the AWS identity (sts:GetCallerIdentity) to check it against allowed_account_ids (%s) of the spec, so envmig refuses to go on; check AWS_PROFILE or your credentials: %v", allowed, e.Err)
	}
	return fmt.Sprintf("AWS account %s is not in allowed_account_ids (%s) of the spec; check AWS_PROFILE or your credentials", e.Account, allowed)
}

func (e *AccountError) Unwrap() error { return e.Err }

// ReadError is a read that failed for a reason other than the resource being
// absent: access denied, throttling the SDK's retryer gave up on, a network
// failure, a cancelled context.
type ReadError struct {
	// Resource names what was being read: `bucket "shop-uploads"`.
	Resource string
	// Action is the IAM action the read needs: "s3:GetBucketPolicy".
	Action string
	Err    error
}

func (e *ReadError) Error() string {
	if e.AccessDenied() {
		return fmt.Sprintf("read %s: access denied to %s; the credentials envmig runs with need it (`envmig iam-policy` lists every action): %v", e.Resource, e.Action, e.Err)
	}
	return fmt.Sprintf("read %s (%s): %v", e.Resource, e.Action, e.Err)
}

func (e *ReadError) Unwrap() error { return e.Err }

// AccessDenied reports whether AWS refused the read for lack of permission.
func (e *ReadError) AccessDenied() bool { return isAccessDenied(e.Err) }

func readError(resource, action string, err error) error {
	return &ReadError{Resource: resource, Action: action, Err: err}
}

// errorCode is the AWS error code of err, "" when err is not an API error.
func errorCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// httpStatus is the HTTP status of the response err came with, 0 if none.
func httpStatus(err error) int {
	var re interface{ HTTPStatusCode() int }
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}

// isAccessDenied reports a refusal for lack of permission. "Forbidden" is
// what the SDK derives from a bodiless 403 (HeadBucket).
func isAccessDenied(err error) bool {
	switch errorCode(err) {
	case "AccessDenied", "AccessDeniedException", "Forbidden", "AllAccessDisabled",
		"UnauthorizedOperation", "AuthorizationError":
		return true
	}
	return false
}

// isObservableFault reports an API error that describes the resource (it
// does not exist, it is not accessible, it is disabled) rather than a
// transient failure: a client fault (4xx) that is not throttling.
func isObservableFault(err error) bool {
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		return false
	}
	if _, throttle := retry.DefaultThrottleErrorCodes[ae.ErrorCode()]; throttle {
		return false
	}
	switch ae.ErrorFault() {
	case smithy.FaultClient:
		return true
	case smithy.FaultServer:
		return false
	}
	status := httpStatus(err)
	return status >= 400 && status < 500
}
