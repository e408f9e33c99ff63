package live

import (
	"time"

	"github.com/envmig/envmig/internal/s3settings"
)

// Observed is everything the reader saw of one environment. The planner is a
// pure function of it; a resource that does not exist is present with
// Exists false, never an error.
type Observed struct {
	Identity Identity
	Region   string
	// ReadAt is when the observation started.
	ReadAt time.Time

	// Databases by DB instance identifier: every identifier the spec names,
	// plus the names a run would use for it (temporary, retired), so the
	// planner can tell a free name from one that is taken.
	Databases map[string]*Database
	// Snapshots are the manual DB snapshots tagged envmig:run, by ID.
	Snapshots map[string]*Snapshot
	// Buckets by name: every bucket the spec names (and moved_from), plus the
	// temporary names a run would use.
	Buckets map[string]*Bucket
	// Groups by Auto Scaling group name.
	Groups map[string]*Group
	// KMSKeys by the key ID, ARN or alias the spec names.
	KMSKeys map[string]*KMSKey
	// StackResources maps a CloudFormation logical ID to its physical ID for
	// the environment's stack (nil when the environment has no stack).
	StackResources map[string]StackResource
	// StackFound is false when the environment names a stack that does not
	// exist.
	StackFound bool
	// Stacks are the stacks read in full (Request.StackInfo), by name; a
	// stack that does not exist is present with Exists false.
	Stacks map[string]*StackInfo
	// Switches by SwitchKey(kind, ref).
	Switches map[string]*Switch
}

// Identity is the caller's identity from STS.
type Identity struct {
	Account string
	ARN     string
	UserID  string
}

// Database is one RDS DB instance.
type Database struct {
	Identifier          string
	Exists              bool
	ARN                 string
	Status              string
	Engine              string
	EngineVersion       string
	InstanceClass       string
	AllocatedStorage    int64 // GiB
	StorageType         string
	StorageEncrypted    bool
	KMSKeyID            string // ARN, as RDS reports it
	MultiAZ             bool
	DBSubnetGroup       string
	ParameterGroup      string // the first DB parameter group's name
	OptionGroup         string
	VPCSecurityGroupIDs []string
	Port                int32
	PubliclyAccessible  bool
	DeletionProtection  bool
	Endpoint            string // address:port, "" while not available
	Tags                map[string]string
}

// RunTag returns the envmig:run tag's value ("" when not a run's resource).
func (d *Database) RunTag() string { return d.Tags["envmig:run"] }

// Snapshot is one manual RDS snapshot a run made.
type Snapshot struct {
	ID         string
	Instance   string
	Status     string
	Encrypted  bool
	KMSKeyID   string
	Created    time.Time
	Lineage    string // the envmig:run tag
	StorageGiB int64
}

// Bucket is one S3 bucket.
type Bucket struct {
	Name   string
	Exists bool
	// Region is the bucket's region (us-east-1 for an empty LocationConstraint).
	Region string
	// Versioning is "Enabled", "Suspended" or "" (never enabled).
	Versioning string
	// Encryption is the default encryption algorithm ("AES256", "aws:kms",
	// "aws:kms:dsse") or "".
	Encryption string
	Tags       map[string]string
	HasPolicy  bool
	// PolicyHasConditions is true when a statement of the bucket policy has a
	// Condition: such a policy can deny the copy's own requests.
	PolicyHasConditions bool
	ObjectLock          bool

	// Settings has an entry for every bucket setting, by its stable name
	// (SettingPolicy, SettingLifecycle, ... ; see BucketSettingNames), when
	// the bucket exists: whether it is configured, a line for the plan, and
	// a digest of its content that changes when the setting does.
	Settings map[string]BucketSetting
	// EncryptionKMSKey is the default encryption's KMS key as S3 reports it
	// (key ID, key ARN or alias); "" without one, or for the AWS managed key.
	EncryptionKMSKey string
	// EncryptionBucketKey is true when the default encryption uses an S3
	// Bucket Key.
	EncryptionBucketKey bool
	// PolicyNameMentions counts the places the policy names this bucket
	// that a move to a new name does not rewrite (the bare name, an ARN with
	// a wildcard after the name); its own ARNs are rewritten.
	PolicyNameMentions int
	// NotificationTargets are the ARNs of the Lambda functions, SNS topics
	// and SQS queues the bucket's event notifications go to, sorted.
	NotificationTargets []string
	// NotificationEventBridge is true when events also go to EventBridge.
	NotificationEventBridge bool
	// LoggingTarget is the bucket server access logs go to ("" without
	// logging).
	LoggingTarget string
	// ReplicationRole is the IAM role of the replication configuration, and
	// ReplicationDestinations the destination bucket ARNs of its rules.
	ReplicationRole         string
	ReplicationDestinations []string
	// ObjectLockRetention is the default retention of object lock
	// ("GOVERNANCE 30 days"), "" without one.
	ObjectLockRetention string
	// Objects and Bytes count the current versions. When the listing stopped
	// at the reader's cap, Truncated is true and they are lower bounds.
	Objects   int64
	Bytes     int64
	Truncated bool
	// RecentObjects and RecentBytes count objects modified in the 24 hours
	// before ReadAt: the write rate the standby delta is predicted from.
	RecentObjects int64
	RecentBytes   int64
	// NoncurrentVersions and DeleteMarkers count a versioned bucket's
	// history: what a copy of its current objects alone would lose.
	// HistoryTruncated: the count stopped at the reader's cap.
	NoncurrentVersions, DeleteMarkers int64
	HistoryTruncated                  bool
	// ModifiedAfter counts the current objects modified after the
	// Request's ModifiedSince for this bucket; ModifiedKeys names the
	// first few.
	ModifiedAfter int64
	ModifiedKeys  []string
	// ArchivedObjects counts the current objects listed in an archive
	// storage class (GLACIER, DEEP_ARCHIVE), which S3 copies only once
	// restored (a listing does not say whether they are); ArchivedKeys
	// names the first few.
	ArchivedObjects int64
	ArchivedKeys    []string
	// ArchivedNoncurrent counts the noncurrent versions in those classes
	// (versioned buckets).
	ArchivedNoncurrent int64
}

// RunTag returns the envmig:run tag's value.
func (b *Bucket) RunTag() string { return b.Tags["envmig:run"] }

// BucketSetting is what the reader saw of one bucket setting.
type BucketSetting struct {
	// State is SettingPresent, SettingAbsent (not configured) or
	// SettingUnsupported (the endpoint does not implement the read: an S3
	// compatible server that lacks the feature).
	State string
	// Summary is one line for the plan: "lifecycle: 3 rules",
	// "notifications: 2 (Lambda, SQS)", "CORS: none".
	Summary string
	// Digest identifies the setting's content (16 hex digits), or is
	// "absent" or "unsupported". The executor reads the setting again when
	// it carries it and refuses when the digest differs.
	Digest string
}

// Setting states.
const (
	SettingPresent     = string(s3settings.Present)
	SettingAbsent      = string(s3settings.Absent)
	SettingUnsupported = string(s3settings.Unsupported)
)

// Bucket setting names, the keys of Bucket.Settings.
const (
	SettingPolicy            = string(s3settings.Policy)
	SettingPublicAccessBlock = string(s3settings.PublicAccessBlock)
	SettingOwnership         = string(s3settings.Ownership)
	SettingEncryption        = string(s3settings.Encryption)
	SettingLifecycle         = string(s3settings.Lifecycle)
	SettingCORS              = string(s3settings.CORS)
	SettingNotifications     = string(s3settings.Notifications)
	SettingLogging           = string(s3settings.Logging)
	SettingWebsite           = string(s3settings.Website)
	SettingRequestPayment    = string(s3settings.RequestPayment)
	SettingTags              = string(s3settings.Tags)
	SettingObjectLock        = string(s3settings.ObjectLock)
	SettingReplication       = string(s3settings.Replication)
	SettingAccelerate        = string(s3settings.Accelerate)
)

// BucketSettingNames lists every bucket setting in the order plans show
// them.
func BucketSettingNames() []string {
	out := make([]string, len(s3settings.All))
	for i, n := range s3settings.All {
		out[i] = string(n)
	}
	return out
}

// Setting returns what was read of setting name; a bucket that does not
// exist, or a setting never read, has State "".
func (b *Bucket) Setting(name string) BucketSetting { return b.Settings[name] }

// Group is one Auto Scaling group.
type Group struct {
	Name               string
	Exists             bool
	MinSize            int32
	MaxSize            int32
	DesiredCapacity    int32
	Instances          []Instance
	SuspendedProcesses []string // sorted
	TargetGroupARNs    []string
	LoadBalancerNames  []string
	// StandbyRun is the run whose envmig:standby tags the group carries:
	// a run took it out of service and has not put it back. Such a group
	// is never "the state to restore"; `envmig recover` brings it back.
	StandbyRun string
}

// Instance is one instance of a group.
type Instance struct {
	ID             string
	LifecycleState string // "InService", "Standby", "Pending", ...
	HealthStatus   string
}

// InService counts the group's InService instances.
func (g *Group) InService() int {
	n := 0
	for _, i := range g.Instances {
		if i.LifecycleState == "InService" {
			n++
		}
	}
	return n
}

// KMSKey is one KMS key the spec names.
type KMSKey struct {
	Ref      string // as written in the spec
	ARN      string
	Readable bool // DescribeKey succeeded
	Enabled  bool
	Error    string // why it is not readable
}

// StackResource is one resource of a CloudFormation stack.
type StackResource struct {
	LogicalID  string
	PhysicalID string
	Type       string // "AWS::RDS::DBInstance"
}

// Request says what to observe. The planner computes it from the spec
// (planner.Request); the reader knows nothing of naming rules.
type Request struct {
	// Stack, when set, is the CloudFormation stack whose resources are
	// reported in Observed.StackResources.
	Stack string
	// StackInfo are stacks to read in full (template, parameters,
	// outputs): a stack-swap's original and its temporary name.
	StackInfo []string
	Databases []string // DB instance identifiers
	Buckets   []string // bucket names
	Groups    []string // Auto Scaling group names
	KMSKeys   []string // key IDs, ARNs or aliases as the spec writes them
	// CountObjects asks for object counts and bytes of every bucket.
	CountObjects bool
	// AllowedAccountIDs is the spec's allow-list (empty = any account).
	AllowedAccountIDs []string
	// Region is the spec's region ("" = the SDK's default).
	Region string
	// Switches are the availability switches to observe (command
	// switches need no read: give their off command as Ref).
	Switches []SwitchRef
	// ModifiedSince asks, per bucket, for the objects modified after a
	// moment (cleanup: after the run that kept the bucket retired it).
	ModifiedSince map[string]time.Time
}

// SwitchRef names one switch to observe.
type SwitchRef struct {
	Kind, Ref string
}

// SwitchKey is a switch's key in Observed.Switches.
func SwitchKey(kind, ref string) string { return kind + "/" + ref }
