package live

import (
	"testing"

	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
)

func TestPolicyHasConditions(t *testing.T) {
	tests := map[string]struct {
		policy  string
		want    bool
		wantErr bool
	}{
		"list, one with a condition": {`{"Statement":[{"Effect":"Allow"},{"Effect":"Deny","Condition":{"Bool":{"aws:SecureTransport":"false"}}}]}`, true, false},
		"list without conditions":    {`{"Statement":[{"Effect":"Allow"},{"Effect":"Deny"}]}`, false, false},
		"single statement object":    {`{"Statement":{"Effect":"Deny","Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}}}`, true, false},
		"empty condition":            {`{"Statement":[{"Effect":"Allow","Condition":{}}]}`, false, false},
		"no statement":               {`{"Version":"2012-10-17"}`, false, false},
		"not JSON":                   {`<policy/>`, false, true},
		"statement of a wrong type":  {`{"Statement":"Allow"}`, false, true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := policyHasConditions(tc.policy)
			if (err != nil) != tc.wantErr || got != tc.want {
				t.Errorf("policyHasConditions = %v, %v; want %v, error %v", got, err, tc.want, tc.wantErr)
			}
		})
	}
}

func TestBucketRegion(t *testing.T) {
	for constraint, want := range map[string]string{"": "us-east-1", "EU": "eu-west-1", "eu-west-1": "eu-west-1", "ap-southeast-2": "ap-southeast-2"} {
		if got := bucketRegion(s3types.BucketLocationConstraint(constraint)); got != want {
			t.Errorf("bucketRegion(%q) = %q, want %q", constraint, got, want)
		}
	}
}
