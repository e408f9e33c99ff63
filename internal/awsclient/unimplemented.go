package awsclient

import (
	"errors"
	"net/http"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"
)

// NotImplemented reports an answer saying the endpoint does not implement
// the operation at all: HTTP 501, a NotImplemented error code, or a server
// error whose body is not an AWS error (an emulator or S3-compatible server
// that fails an unknown operation with a page of its own). An endpoint
// that implements the operation and fails answers with an AWS error code,
// which this never matches.
func NotImplemented(err error) bool {
	if err == nil {
		return false
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		switch ae.ErrorCode() {
		case "NotImplemented", "NotImplementedException", "NotImplementedError":
			return true
		}
	}
	var re *awshttp.ResponseError
	if !errors.As(err, &re) {
		return false
	}
	if re.HTTPStatusCode() == http.StatusNotImplemented {
		return true
	}
	var de *smithy.DeserializationError
	return re.HTTPStatusCode() >= 500 && errors.As(err, &de) && !errors.As(err, &ae)
}
