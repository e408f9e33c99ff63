package awsclient

import (
	"context"
	"reflect"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/smithy-go/middleware"
)

// ExpectBucketOwner makes every S3 request of clients built from cfg carry
// the caller's account as the expected bucket owner (and, for copies, the
// expected source bucket owner): S3 then refuses, with 403, any request on
// a bucket of another account — a squatter's bucket that happens to carry a
// run's name or tag is never read, written or emptied. Operations without
// those fields (ListBuckets, CreateBucket) are left alone. An input that
// already names an owner keeps it.
func ExpectBucketOwner(cfg *aws.Config, account string) {
	if account == "" {
		return
	}
	cfg.APIOptions = append(cfg.APIOptions, func(stack *middleware.Stack) error {
		return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("envmigExpectedBucketOwner",
			func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				if awsmiddleware.GetServiceID(ctx) == "S3" {
					setOwner(in.Parameters, account)
				}
				return next.HandleInitialize(ctx, in)
			}), middleware.Before)
	})
}

// ownerFields are the fields of S3 inputs that name an expected owner.
var ownerFields = []string{"ExpectedBucketOwner", "ExpectedSourceBucketOwner"}

func setOwner(params any, account string) {
	v := reflect.ValueOf(params)
	if v.Kind() != reflect.Pointer || v.IsNil() || v.Elem().Kind() != reflect.Struct {
		return
	}
	v = v.Elem()
	for _, name := range ownerFields {
		f := v.FieldByName(name)
		if f.IsValid() && f.CanSet() && f.Kind() == reflect.Pointer && f.Type().Elem().Kind() == reflect.String && f.IsNil() {
			f.Set(reflect.ValueOf(aws.String(account)))
		}
	}
}

// ExpectedOwner returns the expected bucket owner an S3 input names ("" for
// none): what Trace reports, so tests can check every request carried one.
func ExpectedOwner(params any) string {
	v := reflect.ValueOf(params)
	if v.Kind() != reflect.Pointer || v.IsNil() || v.Elem().Kind() != reflect.Struct {
		return ""
	}
	f := v.Elem().FieldByName("ExpectedBucketOwner")
	if !f.IsValid() || f.Kind() != reflect.Pointer || f.IsNil() {
		return ""
	}
	return f.Elem().String()
}
