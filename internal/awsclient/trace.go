package awsclient

import (
	"context"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/smithy-go/middleware"
)

// Call is one AWS API operation as the SDK names it: service ID ("RDS",
// "S3", "Auto Scaling") and operation ("DescribeDBInstances").
type Call struct {
	Service   string
	Operation string
	// Owner is the expected bucket owner an S3 request named ("" for
	// none, and for other services).
	Owner string
	// Resources are what the call acts on (see Resources).
	Resources []string
}

// IAMAction returns the IAM action the call needs ("rds:DescribeDBInstances").
func (c Call) IAMAction() string {
	return IAMPrefix(c.Service) + ":" + c.Operation
}

// IAMPrefix maps an SDK service ID to its IAM action prefix.
func IAMPrefix(serviceID string) string {
	switch serviceID {
	case "Auto Scaling":
		return "autoscaling"
	case "CloudFormation":
		return "cloudformation"
	case "EventBridge":
		return "events"
	case "Elastic Load Balancing v2":
		return "elasticloadbalancing"
	case "Application Auto Scaling":
		return "application-autoscaling"
	default:
		return strings.ToLower(strings.ReplaceAll(serviceID, " ", ""))
	}
}

// Mutating reports whether the operation can change anything: every
// operation that does not only read.
func (c Call) Mutating() bool {
	for _, p := range []string{"Describe", "List", "Get", "Head"} {
		if strings.HasPrefix(c.Operation, p) {
			return false
		}
	}
	return true
}

// Trace makes every client built from cfg report each operation to fn
// before it is sent (once per operation, not per retry attempt).
func Trace(cfg *aws.Config, fn func(Call)) {
	cfg.APIOptions = append(cfg.APIOptions, func(stack *middleware.Stack) error {
		return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("envmigTrace",
			func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				svc := awsmiddleware.GetServiceID(ctx)
				fn(Call{Service: svc, Operation: awsmiddleware.GetOperationName(ctx), Owner: ExpectedOwner(in.Parameters),
					Resources: Resources(svc, in.Parameters)})
				return next.HandleInitialize(ctx, in)
			}), middleware.After)
	})
}
