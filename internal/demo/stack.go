package demo

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cftypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"golang.org/x/sync/errgroup"

	"github.com/envmig/envmig/internal/awsclient"
)

// StackOptions say which stack SeedStack creates: examples/cloudformation's
// staging environment, as its pipeline would.
type StackOptions struct {
	// Dir holds env-v1.yaml and parameters.json.
	Dir string
	// Name is the stack's name (its EnvironmentName parameter comes from
	// parameters.json).
	Name string
	// Bucket is the stack's bucket, filled with Objects objects.
	Bucket  string
	Objects int
}

// SeedStack creates the stack from Dir's env-v1.yaml and parameters.json,
// waits until it is created, and fills its bucket with objects of varied
// keys, content types, metadata and tags.
func SeedStack(ctx context.Context, cl *awsclient.Clients, o StackOptions) error {
	body, err := os.ReadFile(filepath.Join(o.Dir, "env-v1.yaml"))
	if err != nil {
		return err
	}
	raw, err := os.ReadFile(filepath.Join(o.Dir, "parameters.json"))
	if err != nil {
		return err
	}
	var params []cftypes.Parameter
	if err := json.Unmarshal(raw, &params); err != nil {
		return fmt.Errorf("parameters.json: %w", err)
	}
	if _, err := cl.CloudFormation.CreateStack(ctx, &cloudformation.CreateStackInput{
		StackName: aws.String(o.Name), TemplateBody: aws.String(string(body)), Parameters: params,
	}); err != nil {
		return fmt.Errorf("create stack %s: %w", o.Name, err)
	}
	w := cloudformation.NewStackCreateCompleteWaiter(cl.CloudFormation, func(w *cloudformation.StackCreateCompleteWaiterOptions) {
		w.MinDelay = time.Second
	})
	if err := w.Wait(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String(o.Name)}, 10*time.Minute); err != nil {
		return fmt.Errorf("create stack %s: %w", o.Name, err)
	}
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(16)
	for i := 0; i < o.Objects; i++ {
		key, body, ctype := object(i)
		g.Go(func() error {
			in := &s3.PutObjectInput{Bucket: aws.String(o.Bucket), Key: aws.String(key), Body: strings.NewReader(body),
				ContentType: aws.String(ctype), Metadata: map[string]string{"uploaded-by": fmt.Sprintf("user-%d", i%17)}}
			if i%5 == 0 {
				in.Tagging = aws.String("class=archive")
			}
			if _, err := cl.S3.PutObject(ctx, in); err != nil {
				return fmt.Errorf("put %s/%s: %w", o.Bucket, key, err)
			}
			return nil
		})
	}
	return g.Wait()
}
