package live

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cftypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
)

// Stack reads the resources of the CloudFormation stack name, by logical ID.
// A stack that does not exist gives (nil, false, nil). Resources whose
// deletion has completed are left out.
//
// CloudFormation answers a missing stack with the generic code
// "ValidationError" ("Stack with id NAME does not exist"; moto answers the
// same). Stack branches on that code alone, never on the message: the only
// input is the stack name, so the other ValidationError, a malformed name,
// also means that no such stack exists.
func (r *Reader) Stack(ctx context.Context, name string) (map[string]StackResource, bool, error) {
	out := map[string]StackResource{}
	p := cloudformation.NewListStackResourcesPaginator(r.CloudFormation, &cloudformation.ListStackResourcesInput{StackName: aws.String(name)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if errorCode(err) == "ValidationError" {
			return nil, false, nil
		}
		if err != nil {
			return nil, false, readError(fmt.Sprintf("CloudFormation stack %q", name), "cloudformation:ListStackResources", err)
		}
		for _, s := range page.StackResourceSummaries {
			if s.ResourceStatus == cftypes.ResourceStatusDeleteComplete {
				continue
			}
			id := aws.ToString(s.LogicalResourceId)
			out[id] = StackResource{
				LogicalID:  id,
				PhysicalID: aws.ToString(s.PhysicalResourceId),
				Type:       aws.ToString(s.ResourceType),
			}
		}
	}
	return out, true, nil
}
