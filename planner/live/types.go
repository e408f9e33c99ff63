package live

import "time"

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
	// Objects and Bytes count the current versions. When the listing stopped
	// at the reader's cap, Truncated is true and they are lower bounds.
	Objects   int64
	Bytes     int64
	Truncated bool
	// RecentObjects and RecentBytes count objects modified in the 24 hours
	// before ReadAt: the write rate the standby delta is predicted from.
	RecentObjects int64
	RecentBytes   int64
}

// RunTag returns the envmig:run tag's value.
func (b *Bucket) RunTag() string { return b.Tags["envmig:run"] }

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
	Stack     string
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
}
