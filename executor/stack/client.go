package stack

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cftypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"

	"github.com/envmig/envmig/executor"
)

// Client is the part of the CloudFormation API the operations use;
// *cloudformation.Client satisfies it.
type Client interface {
	cloudformation.DescribeStacksAPIClient
	cloudformation.DescribeStackEventsAPIClient
	cloudformation.ListStackResourcesAPIClient
	cloudformation.DescribeChangeSetAPIClient
	GetTemplate(ctx context.Context, in *cloudformation.GetTemplateInput, optFns ...func(*cloudformation.Options)) (*cloudformation.GetTemplateOutput, error)
	CreateStack(ctx context.Context, in *cloudformation.CreateStackInput, optFns ...func(*cloudformation.Options)) (*cloudformation.CreateStackOutput, error)
	DeleteStack(ctx context.Context, in *cloudformation.DeleteStackInput, optFns ...func(*cloudformation.Options)) (*cloudformation.DeleteStackOutput, error)
	CreateChangeSet(ctx context.Context, in *cloudformation.CreateChangeSetInput, optFns ...func(*cloudformation.Options)) (*cloudformation.CreateChangeSetOutput, error)
	ExecuteChangeSet(ctx context.Context, in *cloudformation.ExecuteChangeSetInput, optFns ...func(*cloudformation.Options)) (*cloudformation.ExecuteChangeSetOutput, error)
	DeleteChangeSet(ctx context.Context, in *cloudformation.DeleteChangeSetInput, optFns ...func(*cloudformation.Options)) (*cloudformation.DeleteChangeSetOutput, error)
}

var _ Client = (*cloudformation.Client)(nil)

// Buckets looks at the buckets a stack holds: whether they exist and are
// empty before and after a delete, and empties a run's own temporary
// bucket; *s3.Client satisfies it.
type Buckets interface {
	HeadBucket(ctx context.Context, in *s3.HeadBucketInput, optFns ...func(*s3.Options)) (*s3.HeadBucketOutput, error)
	s3.ListObjectVersionsAPIClient
	DeleteObjects(ctx context.Context, in *s3.DeleteObjectsInput, optFns ...func(*s3.Options)) (*s3.DeleteObjectsOutput, error)
}

var _ Buckets = (*s3.Client)(nil)

// Snapshots finds the final snapshot CloudFormation takes of a database
// whose DeletionPolicy is Snapshot; *rds.Client satisfies it.
type Snapshots interface {
	rds.DescribeDBSnapshotsAPIClient
}

var _ Snapshots = (*rds.Client)(nil)

// Options tune the waits. Zero fields take the defaults.
type Options struct {
	// MinDelay and MaxDelay bound the waiters' backoff between two
	// observations (defaults 10 s and 60 s).
	MinDelay, MaxDelay time.Duration
	// MaxWait bounds one wait (default 12 hours: a stack that restores a
	// large database takes hours). When it runs out the operation fails
	// resumably: CloudFormation carries on, and resume waits again.
	MaxWait time.Duration
}

func (o Options) withDefaults() Options {
	if o.MinDelay <= 0 {
		o.MinDelay = 10 * time.Second
	}
	if o.MaxDelay <= 0 {
		o.MaxDelay = time.Minute
	}
	if o.MaxDelay < o.MinDelay {
		o.MaxDelay = o.MinDelay
	}
	if o.MaxWait <= 0 {
		o.MaxWait = 12 * time.Hour
	}
	return o
}

// Ops runs stack operations. CF is required; S3 and RDS may be nil, which
// skips the bucket checks and the final-snapshot search of Delete (and
// says so in its report). Ops is safe for concurrent use on different
// stacks.
type Ops struct {
	CF      Client
	S3      Buckets
	RDS     Snapshots
	Options Options
}

// TagRecreatedBy marks the stack a run creates again under an original's
// name (stack-swap's last stack): it is the environment, not a temporary,
// so it must not carry envmig:run, which tells cleanup and the planner that
// a resource is a run's leftover (stack tags propagate to every resource).
const TagRecreatedBy = "envmig:recreated-by"

// Journal keys the operations record.
const (
	KeyStackID     = "stack_id"      // the stack created or deleted (its ARN)
	KeyCreateSent  = "create_sent"   // "true" once CreateStack was sent
	KeyAttempt     = "attempt"       // the CreateStack attempt, in the request token
	KeyDeleteSent  = "delete_sent"   // "true" once DeleteStack was sent
	KeyDeleteAt    = "delete_at"     // when the delete began (RFC 3339)
	KeyResources   = "resources"     // the stack's resources before a delete (JSON)
	KeyChangeSetID = "change_set_id" // the change set created
	KeyExecuteSent = "execute_sent"  // "true" once ExecuteChangeSet was sent
)

var (
	// ErrNotThisRun is wrapped when a stack exists under the name an
	// operation uses but does not carry this run's tag.
	ErrNotThisRun = errors.New("exists and is not this run's")
	// ErrChangedOutOfBand is wrapped when a stack this run created no
	// longer runs the template and parameters it was created with, or an
	// original is not the stack the plan observed.
	ErrChangedOutOfBand = errors.New("changed outside envmig")
	// ErrNonEmptyBuckets is wrapped when a stack holds buckets that are
	// not empty and would be deleted with it.
	ErrNonEmptyBuckets = errors.New("holds buckets that are not empty")
	// ErrLeftBehind is wrapped when a stack is gone but a bucket it should
	// have deleted is still there.
	ErrLeftBehind = errors.New("left resources behind")
)

// Stack is a stack as an operation left it.
type Stack struct {
	Name    string
	ID      string
	Status  string
	Outputs map[string]string
	// Resources by logical ID.
	Resources map[string]Resource
}

// Resource is one resource of a stack.
type Resource struct {
	LogicalID  string
	PhysicalID string
	Type       string
	Status     string
	// DeletionPolicy is the effective policy from the stack's template
	// (filled by Delete).
	DeletionPolicy string `json:",omitempty"`
}

// Event is one stack event.
type Event struct {
	Time      time.Time
	LogicalID string
	Type      string
	Status    string
	Reason    string
}

func (e Event) String() string {
	s := fmt.Sprintf("%s %s (%s) %s", e.Time.UTC().Format("15:04:05"), e.LogicalID, e.Type, e.Status)
	if e.Reason != "" {
		s += ": " + e.Reason
	}
	return s
}

// StackError reports a stack operation that ended in a failed state, with
// the stack's failed events (oldest first) and their reasons.
type StackError struct {
	Stack  string
	ID     string
	Op     string // "create", "delete", "update", "change set"
	Status string
	Reason string
	Events []Event
	Err    error
}

func (e *StackError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s of stack %s failed", e.Op, e.Stack)
	if e.Status != "" {
		fmt.Fprintf(&b, ": it is %s", e.Status)
	}
	if e.Reason != "" {
		fmt.Fprintf(&b, " (%s)", e.Reason)
	}
	if e.Err != nil && e.Status == "" {
		fmt.Fprintf(&b, ": %v", e.Err)
	}
	for _, ev := range e.Events {
		b.WriteString("\n  - " + ev.String())
	}
	return b.String()
}

func (e *StackError) Unwrap() error { return e.Err }

// describe returns the stack by name or ID, nil when there is none.
// CloudFormation (and moto) answer a missing stack with the generic
// ValidationError; the only input is the name, so it means "no such stack".
func (o *Ops) describe(ctx context.Context, nameOrID string) (*cftypes.Stack, error) {
	out, err := o.CF.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String(nameOrID)})
	if errorCode(err) == "ValidationError" {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("describe stack %s: %w", nameOrID, err)
	}
	if len(out.Stacks) == 0 {
		return nil, nil
	}
	return &out.Stacks[0], nil
}

// result reads what a finished stack holds.
func (o *Ops) result(ctx context.Context, s *cftypes.Stack) (*Stack, error) {
	st := &Stack{Name: aws.ToString(s.StackName), ID: aws.ToString(s.StackId), Status: string(s.StackStatus), Outputs: map[string]string{}}
	for _, out := range s.Outputs {
		st.Outputs[aws.ToString(out.OutputKey)] = aws.ToString(out.OutputValue)
	}
	res, err := o.resources(ctx, st.ID)
	if err != nil {
		return nil, err
	}
	st.Resources = res
	return st, nil
}

// resources lists a stack's resources (those whose deletion completed are
// left out).
func (o *Ops) resources(ctx context.Context, id string) (map[string]Resource, error) {
	out := map[string]Resource{}
	p := cloudformation.NewListStackResourcesPaginator(o.CF, &cloudformation.ListStackResourcesInput{StackName: aws.String(id)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list the resources of stack %s: %w", id, err)
		}
		for _, r := range page.StackResourceSummaries {
			if r.ResourceStatus == cftypes.ResourceStatusDeleteComplete {
				continue
			}
			lid := aws.ToString(r.LogicalResourceId)
			out[lid] = Resource{LogicalID: lid, PhysicalID: aws.ToString(r.PhysicalResourceId), Type: aws.ToString(r.ResourceType), Status: string(r.ResourceStatus)}
		}
	}
	return out, nil
}

// failedEvents returns the events of the stack's last operation that
// failed or explain a rollback, oldest first: the events since the last
// "User Initiated" event of the stack itself.
func (o *Ops) failedEvents(ctx context.Context, id string) ([]Event, error) {
	var out []Event
	p := cloudformation.NewDescribeStackEventsPaginator(o.CF, &cloudformation.DescribeStackEventsInput{StackName: aws.String(id)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return out, fmt.Errorf("read the events of stack %s: %w", id, err)
		}
		for _, e := range page.StackEvents {
			ev := Event{
				Time: aws.ToTime(e.Timestamp), LogicalID: aws.ToString(e.LogicalResourceId), Type: aws.ToString(e.ResourceType),
				Status: string(e.ResourceStatus), Reason: aws.ToString(e.ResourceStatusReason),
			}
			stackItself := ev.Type == "AWS::CloudFormation::Stack"
			if strings.HasSuffix(ev.Status, "_FAILED") || (strings.Contains(ev.Status, "ROLLBACK") && ev.Reason != "") || (stackItself && ev.Reason != "" && ev.Reason != "User Initiated") {
				out = append(out, ev)
			}
			if stackItself && ev.Reason == "User Initiated" {
				sort.SliceStable(out, func(i, j int) bool { return out[i].Time.Before(out[j].Time) })
				return out, nil
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Time.Before(out[j].Time) })
	return out, nil
}

// stackError builds the error of a failed operation, with its events, and
// shows each event as a line of progress.
func (o *Ops) stackError(ctx context.Context, sc *executor.StepContext, op, name, id string, cause error) error {
	se := &StackError{Stack: name, ID: id, Op: op, Err: cause}
	if s, err := o.describe(ctx, id); err == nil && s != nil {
		se.Status, se.Reason = string(s.StackStatus), aws.ToString(s.StackStatusReason)
	}
	events, err := o.failedEvents(ctx, id)
	se.Events = events
	for _, ev := range events {
		sc.Report(executor.Progress{Line: fmt.Sprintf("stack %s: %s", name, ev)})
	}
	if err != nil {
		sc.Report(executor.Progress{Line: fmt.Sprintf("stack %s: %v", name, err)})
	}
	return se
}

// owner checks that a stack carries tag=lineage.
func owner(s *cftypes.Stack, tag, lineage string) error {
	tags := tagMap(s.Tags)
	got, tagged := tags[tag]
	if got == lineage {
		return nil
	}
	why := "it has no " + tag + " tag"
	if tagged {
		why = fmt.Sprintf("it is tagged %s=%s, another run's", tag, got)
	}
	return fmt.Errorf("stack %s %w: %s; envmig never adopts a stack it did not create: delete or rename it, then plan again", aws.ToString(s.StackName), ErrNotThisRun, why)
}

func tagMap(tags []cftypes.Tag) map[string]string {
	m := map[string]string{}
	for _, t := range tags {
		m[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	return m
}

func cfTags(m map[string]string) []cftypes.Tag {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]cftypes.Tag, 0, len(keys))
	for _, k := range keys {
		out = append(out, cftypes.Tag{Key: aws.String(k), Value: aws.String(m[k])})
	}
	return out
}

func cfParameters(m map[string]string, usePrevious []string) []cftypes.Parameter {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]cftypes.Parameter, 0, len(keys)+len(usePrevious))
	for _, k := range keys {
		out = append(out, cftypes.Parameter{ParameterKey: aws.String(k), ParameterValue: aws.String(m[k])})
	}
	for _, k := range usePrevious {
		out = append(out, cftypes.Parameter{ParameterKey: aws.String(k), UsePreviousValue: aws.Bool(true)})
	}
	return out
}

func capabilities(cs []string) []cftypes.Capability {
	out := make([]cftypes.Capability, len(cs))
	for i, c := range cs {
		out[i] = cftypes.Capability(c)
	}
	return out
}

var tokenUnsafe = regexp.MustCompile(`[^a-zA-Z0-9-]+`)

// token is a request token (or change set name) made of parts:
// [a-zA-Z][-a-zA-Z0-9]*, at most 128 characters.
func token(parts ...string) string {
	t := "envmig-" + tokenUnsafe.ReplaceAllString(strings.Join(parts, "-"), "-")
	if len(t) > 128 {
		t = t[:128]
	}
	return strings.TrimRight(t, "-")
}

// ChangeSetName is the change set a run creates for a stack: deterministic
// and containing the run's lineage, so that it is found again after a crash
// and never confused with another run's.
func ChangeSetName(lineage string) string { return token(lineage) }

func errorCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

func errorAs(err error, target any) bool { return err != nil && errors.As(err, target) }
