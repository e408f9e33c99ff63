package live_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/envmig/envmig/internal/testaws"
)

// createTargetGroup makes an ELBv2 target group in the default VPC and
// returns its ARN. The module has no ELBv2 client, so this signs one Query
// request by hand; only the test needs it.
func createTargetGroup(t *testing.T, cfg aws.Config, name string) string {
	t.Helper()
	ctx := context.Background()
	vpcs, err := ec2.NewFromConfig(cfg).DescribeVpcs(ctx, &ec2.DescribeVpcsInput{
		Filters: []ec2types.Filter{{Name: aws.String("is-default"), Values: []string{"true"}}},
	})
	must(t, err)
	if len(vpcs.Vpcs) == 0 {
		t.Fatal("moto has no default VPC")
	}
	form := url.Values{
		"Action":     {"CreateTargetGroup"},
		"Version":    {"2015-12-01"},
		"Name":       {name},
		"Protocol":   {"HTTP"},
		"Port":       {"80"},
		"VpcId":      {aws.ToString(vpcs.Vpcs[0].VpcId)},
		"TargetType": {"instance"},
	}.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, testaws.Endpoint()+"/", strings.NewReader(form))
	must(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	creds, err := cfg.Credentials.Retrieve(ctx)
	must(t, err)
	sum := sha256.Sum256([]byte(form))
	must(t, v4.NewSigner().SignHTTP(ctx, creds, req, hex.EncodeToString(sum[:]), "elasticloadbalancing", testaws.Region, time.Now()))
	resp, err := http.DefaultClient.Do(req)
	must(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	must(t, err)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("CreateTargetGroup: %s: %s", resp.Status, body)
	}
	var out struct {
		ARN string `xml:"CreateTargetGroupResult>TargetGroups>member>TargetGroupArn"`
	}
	if err := xml.Unmarshal(body, &out); err != nil || out.ARN == "" {
		t.Fatalf("CreateTargetGroup: no ARN in %s (%v)", body, err)
	}
	return out.ARN
}
