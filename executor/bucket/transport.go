package bucket

import (
	"net/http"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
)

// HTTPClient returns an SDK HTTP client that keeps up to conns idle
// connections per host, so that a copy with conns requests in flight reuses
// its connections instead of opening new ones (Go's default keeps 2).
// Build the S3 clients a Syncer uses with it (awsclient.Options.HTTPClient).
func HTTPClient(conns int) aws.HTTPClient {
	return awshttp.NewBuildableClient().WithTransportOptions(func(t *http.Transport) {
		t.MaxIdleConns = max(t.MaxIdleConns, 2*conns)
		t.MaxIdleConnsPerHost = conns
	})
}
