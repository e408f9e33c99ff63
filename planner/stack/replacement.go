package stack

import (
	"strings"
)

// This file is envmig's own table of the property changes that make
// CloudFormation replace (create anew, then delete) a database or a bucket.
// A replaced database or bucket is an empty one: envmig refuses to update a
// stack in place when its table says a persistent resource would be
// replaced, whatever a change set's preview says.
//
// Sources, cited per entry:
//   - [schema]: the resource provider's schema, aws-rds-dbinstance.json of
//     aws-cloudformation/aws-cloudformation-resource-providers-rds (2025-07):
//     createOnlyProperties always replace; conditionalCreateOnlyProperties
//     replace when the update handler refuses the change (NotUpdatable).
//   - [handler]: that provider's ImmutabilityHelper.isChangeMutable, which
//     decides the conditional ones.
//   - [reference]: the CloudFormation template reference's "Update
//     requires" line for the property.
//
// A property the table does not list is assumed to replace (unsure →
// replacement): a new property must be added here, with its source, before
// envmig updates it in place.

// verdict is a rule's answer for one property change.
type verdict struct {
	replaces bool
	rule     string
}

// rule decides whether changing a property from old to new (absent = nil)
// replaces the resource; oldProps and newProps are the resource's whole
// evaluated properties, for rules that depend on others.
type rule func(old, new any, oldProps, newProps map[string]any) verdict

func always(cite string) rule {
	return func(_, _ any, _, _ map[string]any) verdict { return verdict{true, cite} }
}

func inPlace(cite string) rule {
	return func(_, _ any, _, _ map[string]any) verdict { return verdict{false, cite} }
}

// unlessNewEmpty replaces unless the new value is absent or empty: the
// restore-time properties of a DB instance [handler].
func unlessNewEmpty(cite string) rule {
	return func(_, n any, _, _ map[string]any) verdict {
		return verdict{!emptyValue(n), cite}
	}
}

var dbInstanceRules = map[string]rule{
	// createOnlyProperties [schema]; "Update requires: Replacement" [reference].
	"BackupTarget":             always("createOnly [schema]"),
	"CharacterSetName":         always("createOnly [schema]; Replacement [reference]"),
	"CustomIAMInstanceProfile": always("createOnly [schema]; Replacement [reference]"),
	"DBClusterIdentifier":      always("createOnly [schema]; Replacement [reference]"),
	"DBInstanceIdentifier":     always("createOnly [schema]; Replacement [reference]: a new name is a new instance"),
	"DBName":                   always("createOnly [schema]; Replacement [reference]"),
	"DBSubnetGroupName":        always("createOnly [schema]; Replacement [reference]: moving to another subnet group means another VPC"),
	"DBSystemId":               always("createOnly [schema]; Replacement [reference]"),
	"KmsKeyId":                 always("createOnly [schema]; Replacement [reference]: RDS cannot re-encrypt an instance"),
	"MasterUsername":           always("createOnly [schema]; Replacement [reference]"),
	"NcharCharacterSetName":    always("createOnly [schema]; Replacement [reference]"),
	"SourceRegion":             always("createOnly [schema]; Replacement [reference]"),
	"StorageEncrypted":         always("createOnly [schema]; Replacement [reference]: RDS cannot encrypt or decrypt an instance in place"),
	"Timezone":                 always("createOnly [schema]; Replacement [reference]"),

	// conditionalCreateOnlyProperties [schema], decided as the update
	// handler decides them [handler].
	"DBSnapshotIdentifier":                snapshotRule("DBSnapshotIdentifier"),
	"DBClusterSnapshotIdentifier":         snapshotRule("DBClusterSnapshotIdentifier"),
	"Engine":                              engineRule,
	"AvailabilityZone":                    availabilityZoneRule,
	"PerformanceInsightsKMSKeyId":         performanceInsightsKeyRule,
	"SourceDBInstanceIdentifier":          unlessNewEmpty("conditionalCreateOnly [schema]; in place only when equal or removed (a read replica promoted) [handler]"),
	"SourceDBClusterIdentifier":           unlessNewEmpty("conditionalCreateOnly [schema]; in place only when equal or removed (a replica promoted) [handler]"),
	"RestoreTime":                         unlessNewEmpty("conditionalCreateOnly [schema]; in place only when equal or removed [handler]"),
	"SourceDBInstanceAutomatedBackupsArn": unlessNewEmpty("conditionalCreateOnly [schema]; in place only when equal or removed [handler]"),
	"SourceDbiResourceId":                 unlessNewEmpty("conditionalCreateOnly [schema]; in place only when equal or removed [handler]"),
	"UseLatestRestorableTime": func(_, n any, _, _ map[string]any) verdict {
		return verdict{strings.EqualFold(scalarString(n), "true"), "conditionalCreateOnly [schema]; in place unless it becomes true [handler]"}
	},
	// conditionalCreateOnly [schema] with no condition in the update
	// handler: updated in place ("Some interruptions" [reference]).
	"AutoMinorVersionUpgrade":    inPlace("conditionalCreateOnly [schema], never refused by the handler; Some interruptions [reference]"),
	"BackupRetentionPeriod":      inPlace("conditionalCreateOnly [schema], never refused by the handler; Some interruptions [reference]"),
	"DBParameterGroupName":       inPlace("conditionalCreateOnly [schema], never refused by the handler; Some interruptions [reference]"),
	"MultiAZ":                    inPlace("conditionalCreateOnly [schema], never refused by the handler; Some interruptions [reference]"),
	"PreferredMaintenanceWindow": inPlace("conditionalCreateOnly [schema], never refused by the handler; Some interruptions [reference]"),
	"StorageType":                inPlace("conditionalCreateOnly [schema], never refused by the handler; Some interruptions [reference]"),

	// Updatable properties [schema]; "No interruption" or "Some
	// interruptions" [reference].
	"AllocatedStorage":                          inPlace("updatable [schema]; No interruption [reference]"),
	"AllowMajorVersionUpgrade":                  inPlace("updatable [schema]; No interruption [reference]"),
	"ApplyImmediately":                          inPlace("No interruption [reference]"),
	"AssociatedRoles":                           inPlace("updatable [schema]; No interruption [reference]"),
	"AutomaticBackupReplicationKmsKeyId":        inPlace("No interruption [reference]"),
	"AutomaticBackupReplicationRegion":          inPlace("No interruption [reference]"),
	"AutomaticBackupReplicationRetentionPeriod": inPlace("No interruption [reference]"),
	"CACertificateIdentifier":                   inPlace("updatable [schema]; No interruption [reference]"),
	"CertificateRotationRestart":                inPlace("updatable [schema]; No interruption [reference]"),
	"CopyTagsToSnapshot":                        inPlace("updatable [schema]; No interruption [reference]"),
	"DatabaseInsightsMode":                      inPlace("No interruption [reference]"),
	"DBInstanceClass":                           inPlace("updatable [schema]; Some interruptions [reference]"),
	"DBSecurityGroups":                          inPlace("updatable [schema]; No interruption [reference]"),
	"DedicatedLogVolume":                        inPlace("No interruption [reference]"),
	"DeleteAutomatedBackups":                    inPlace("updatable [schema]; No interruption [reference]"),
	"DeletionProtection":                        inPlace("updatable [schema]; No interruption [reference]"),
	"Domain":                                    inPlace("updatable [schema]; No interruption [reference]"),
	"DomainAuthSecretArn":                       inPlace("Some interruptions [reference]"),
	"DomainDnsIps":                              inPlace("Some interruptions [reference]"),
	"DomainFqdn":                                inPlace("Some interruptions [reference]"),
	"DomainIAMRoleName":                         inPlace("updatable [schema]; No interruption [reference]"),
	"DomainOu":                                  inPlace("Some interruptions [reference]"),
	"EnableCloudwatchLogsExports":               inPlace("updatable [schema]; No interruption [reference]"),
	"EnableIAMDatabaseAuthentication":           inPlace("updatable [schema]; No interruption [reference]"),
	"EnablePerformanceInsights":                 inPlace("updatable [schema]; No interruption [reference]"),
	"EngineLifecycleSupport":                    inPlace("Some interruptions [reference]"),
	"EngineVersion":                             inPlace("updatable [schema] (removed from the conditional list: never replaces); Some interruptions [reference]"),
	"Iops":                                      inPlace("updatable [schema]; No interruption [reference]"),
	"LicenseModel":                              inPlace("updatable [schema]; No interruption [reference]"),
	"ManageMasterUserPassword":                  inPlace("updatable [schema]; No interruption [reference]"),
	"MasterUserPassword":                        inPlace("updatable [schema]; No interruption [reference]"),
	"MasterUserSecret":                          inPlace("updatable [schema]; No interruption [reference]"),
	"MaxAllocatedStorage":                       inPlace("updatable [schema]; No interruption [reference]"),
	"MonitoringInterval":                        inPlace("updatable [schema]; No interruption [reference]"),
	"MonitoringRoleArn":                         inPlace("updatable [schema]; No interruption [reference]"),
	"NetworkType":                               inPlace("updatable [schema]; No interruption [reference]"),
	"OptionGroupName":                           inPlace("updatable [schema]; No interruption [reference]"),
	"PerformanceInsightsRetentionPeriod":        inPlace("updatable [schema]; No interruption [reference]"),
	"Port":                                      inPlace("updatable [schema] (no longer createOnly); Some interruptions [reference]"),
	"PreferredBackupWindow":                     inPlace("updatable [schema]; No interruption [reference]"),
	"ProcessorFeatures":                         inPlace("updatable [schema]; No interruption [reference]"),
	"PromotionTier":                             inPlace("updatable [schema]; No interruption [reference]"),
	"PubliclyAccessible":                        inPlace("updatable [schema]; No interruption [reference]"),
	"ReplicaMode":                               inPlace("updatable [schema]; No interruption [reference]"),
	"StorageThroughput":                         inPlace("updatable [schema]; No interruption [reference]"),
	"Tags":                                      inPlace("updatable [schema]; No interruption [reference]"),
	"UseDefaultProcessorFeatures":               inPlace("updatable [schema]; No interruption [reference]"),
	"VPCSecurityGroups":                         inPlace("updatable [schema]; No interruption [reference]"),
}

// snapshotRule: the handler keeps the instance when the snapshot is equal
// or removed, but the reference says: "After you restore a DB instance with
// a DBSnapshotIdentifier property, you must specify the same
// DBSnapshotIdentifier property for any future updates ... if you don't
// specify the DBSnapshotIdentifier property, an empty DB instance is
// created, and the original DB instance is deleted. If you specify a
// property that is different from the previous snapshot restore property,
// a new DB instance is restored from the specified DBSnapshotIdentifier
// property, and the original DB instance is deleted." envmig follows the
// reference: any change, including removal, replaces.
func snapshotRule(prop string) rule {
	return func(o, n any, _, _ map[string]any) verdict {
		switch {
		case emptyValue(n):
			return verdict{true, prop + " dropped: the reference says an update without the snapshot the instance was restored from creates an EMPTY instance and deletes the original"}
		case emptyValue(o):
			return verdict{true, prop + " added: the instance is restored anew from the snapshot, the original deleted [reference]"}
		}
		return verdict{true, prop + " changed: a new instance is restored from the other snapshot, the original deleted [reference]"}
	}
}

// engineRule: in place only for the engine changes the handler allows
// (isEngineMutable): aurora → aurora-mysql, oracle-se/oracle-se1 →
// oracle-se2, and the conversion of oracle-ee or oracle-se2 to its CDB
// engine. Every other engine change replaces.
func engineRule(o, n any, _, _ map[string]any) verdict {
	from, to := strings.ToLower(scalarString(o)), strings.ToLower(scalarString(n))
	allowed := map[string]string{
		"aurora": "aurora-mysql", "oracle-se": "oracle-se2", "oracle-se1": "oracle-se2",
		"oracle-ee": "oracle-ee-cdb", "oracle-se2": "oracle-se2-cdb",
	}
	if allowed[from] == to && to != "" {
		return verdict{false, "conditionalCreateOnly [schema]; this engine upgrade is updated in place [handler]"}
	}
	return verdict{true, "conditionalCreateOnly [schema]; changing engine " + scalarString(o) + " to " + scalarString(n) + " replaces the instance [handler]"}
}

// availabilityZoneRule: in place only when the new template leaves the
// zone out and makes the instance Multi-AZ [handler].
func availabilityZoneRule(_, n any, _, newProps map[string]any) verdict {
	if emptyValue(n) && strings.EqualFold(scalarString(newProps["MultiAZ"]), "true") {
		return verdict{false, "conditionalCreateOnly [schema]; dropped for a Multi-AZ instance: updated in place [handler]"}
	}
	return verdict{true, "conditionalCreateOnly [schema]; moving an instance to another zone replaces it [handler]"}
}

// performanceInsightsKeyRule: in place only when no key was set before
// [handler]; Replacement [reference].
func performanceInsightsKeyRule(o, _ any, _, _ map[string]any) verdict {
	if emptyValue(o) {
		return verdict{false, "conditionalCreateOnly [schema]; set for the first time: in place [handler]"}
	}
	return verdict{true, "conditionalCreateOnly [schema]; Replacement [reference]"}
}

var bucketRules = map[string]rule{
	"BucketName": always("Replacement [reference]: a new name is a new bucket"),
	// Object Lock can be turned on for an existing bucket ("No
	// interruption" [reference]) but never off: S3 refuses, so a template
	// that turns it off is assumed to replace (unsure → replacement).
	"ObjectLockEnabled": func(o, n any, _, _ map[string]any) verdict {
		if strings.EqualFold(scalarString(o), "true") && !strings.EqualFold(scalarString(n), "true") {
			return verdict{true, "S3 cannot turn Object Lock off: assumed to replace (conservative)"}
		}
		return verdict{false, "No interruption [reference]"}
	},
	"AbacStatus":                       inPlace("No interruption [reference]"),
	"AccelerateConfiguration":          inPlace("No interruption [reference]"),
	"AccessControl":                    inPlace("No interruption [reference]"),
	"AnalyticsConfigurations":          inPlace("No interruption [reference]"),
	"BucketEncryption":                 inPlace("No interruption [reference]"),
	"CorsConfiguration":                inPlace("No interruption [reference]"),
	"IntelligentTieringConfigurations": inPlace("No interruption [reference]"),
	"InventoryConfigurations":          inPlace("No interruption [reference]"),
	"LifecycleConfiguration":           inPlace("No interruption [reference]"),
	"LoggingConfiguration":             inPlace("No interruption [reference]"),
	"MetadataConfiguration":            inPlace("No interruption [reference]"),
	"MetadataTableConfiguration":       inPlace("No interruption [reference]"),
	"MetricsConfigurations":            inPlace("No interruption [reference]"),
	"NotificationConfiguration":        inPlace("No interruption [reference]"),
	"ObjectLockConfiguration":          inPlace("No interruption [reference]"),
	"OwnershipControls":                inPlace("No interruption [reference]"),
	"PublicAccessBlockConfiguration":   inPlace("No interruption [reference]"),
	"ReplicationConfiguration":         inPlace("No interruption [reference]"),
	"Tags":                             inPlace("No interruption [reference]"),
	"VersioningConfiguration":          inPlace("Some interruptions [reference]"),
	"WebsiteConfiguration":             inPlace("No interruption [reference]"),
}

// replacementRules are the tables by resource type.
var replacementRules = map[string]map[string]rule{
	TypeDBInstance: dbInstanceRules,
	TypeBucket:     bucketRules,
}

// lowercased are the DB instance properties CloudFormation lowercases
// before use (propertyTransform [schema]): a change of case is no change.
var lowercased = map[string]map[string]bool{
	TypeDBInstance: {
		"DBClusterIdentifier": true, "DBClusterSnapshotIdentifier": true, "Engine": true,
		"DBInstanceIdentifier": true, "DBParameterGroupName": true, "DBSubnetGroupName": true,
		"DBSnapshotIdentifier": true, "OptionGroupName": true, "SourceDBInstanceIdentifier": true,
		"SourceDBInstanceAutomatedBackupsArn": true,
	},
}

// replaces looks a property change up in the table. A property envmig does
// not know replaces.
func replaces(typ, prop string, old, new any, oldProps, newProps map[string]any) verdict {
	r, ok := replacementRules[typ][prop]
	if !ok {
		return verdict{true, "not in envmig's table of " + typ + " properties: assumed to replace (conservative)"}
	}
	return r(old, new, oldProps, newProps)
}

// emptyValue reports an absent property or an empty string.
func emptyValue(v any) bool {
	return v == nil || scalarString(v) == "" && !isCollection(v)
}

func isCollection(v any) bool {
	switch v.(type) {
	case map[string]any, []any, Unknown:
		return true
	}
	return false
}

// Replaces reports whether changing property prop of a resource of type
// typ from old to new (absent = nil) makes CloudFormation replace it, by
// envmig's table, with the rule's citation. oldProps and newProps are the
// resource's whole evaluated properties (nil when unknown).
func Replaces(typ, prop string, old, new any, oldProps, newProps map[string]any) (bool, string) {
	v := replaces(typ, prop, old, new, oldProps, newProps)
	return v.replaces, v.rule
}
