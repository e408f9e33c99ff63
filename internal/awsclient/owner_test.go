package awsclient

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

func TestExpectedOwnerIsSetOnEveryS3InputThatHasTheField(t *testing.T) {
	head := &s3.HeadBucketInput{Bucket: aws.String("b")}
	setOwner(head, "123456789012")
	if ExpectedOwner(head) != "123456789012" {
		t.Errorf("HeadBucket owner = %q", ExpectedOwner(head))
	}
	cp := &s3.CopyObjectInput{Bucket: aws.String("b")}
	setOwner(cp, "123456789012")
	if aws.ToString(cp.ExpectedBucketOwner) != "123456789012" || aws.ToString(cp.ExpectedSourceBucketOwner) != "123456789012" {
		t.Errorf("CopyObject owners = %v %v", cp.ExpectedBucketOwner, cp.ExpectedSourceBucketOwner)
	}
	kept := &s3.GetObjectInput{ExpectedBucketOwner: aws.String("999999999999")}
	setOwner(kept, "123456789012")
	if ExpectedOwner(kept) != "999999999999" {
		t.Errorf("an input's own owner was replaced: %q", ExpectedOwner(kept))
	}
	list := &s3.ListBucketsInput{}
	setOwner(list, "123456789012") // no such field: nothing to do, no panic
	if ExpectedOwner(list) != "" {
		t.Error("ListBuckets has no owner field")
	}
	setOwner(nil, "1")
	setOwner(struct{}{}, "1")
}
