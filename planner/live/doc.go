// Package live observes the AWS resources of one environment, read-only. It
// is the only I/O on the planner's side: the planner is a pure function of
// the configuration, an Observed value and its options, so everything a plan
// depends on passes through here, and nothing here ever changes AWS.
//
// A Reader holds small interfaces (STSAPI, RDSAPI, S3API, AutoScalingAPI,
// CloudFormationAPI, KMSAPI) that the SDK's own clients satisfy; tests pass
// stubs. Paging uses the SDK's paginators and retries the SDK's retryer;
// the reader never retries on top of it.
//
// # Contracts
//
// Read-only: the reader calls only Describe*, Get*, Head* and List*
// operations. A recording test proves Observe makes zero mutating calls.
//
// Identity fails closed: Observe first reads the caller's identity from STS.
// When the request carries allowed_account_ids and the account is not in
// them, Observe returns an *AccountError and reads nothing else. When the
// identity cannot be read and an allow-list is set, that is an *AccountError
// too (Account "", Err set): envmig never proceeds without knowing it is in an
// allowed account. Without an allow-list an unreadable identity is still an
// error, because a plan must name its account.
//
// A missing resource is an observation, not an error: a database, bucket or
// group that does not exist is reported with Exists false, a stack that does
// not exist with found false, and a KMS key that cannot be described with
// Readable false and the error code in Error (a spec may name a key the
// caller cannot see; the planner decides what that means).
//
// Every other failed read is an error: a *ReadError naming the resource and
// the IAM action the read needs, so that access denied is never mistaken for
// "missing". Observe stops at the first such error and returns it.
//
// # Concurrency
//
// Observe reads at most Reader.Concurrency resources at once (default 8),
// and, separately, keeps at most Reader.Concurrency ListObjectsV2 requests in
// flight across all buckets.
//
// # Counting objects and the object cap
//
// With Request.CountObjects, each bucket's current objects are listed to
// count them and their bytes, and those modified in the 24 hours before
// Observed.ReadAt (or later, while the listing ran). The listing is parallel
// by top-level prefix: a first listing with Delimiter "/" yields the objects
// at the root and the top-level common prefixes, then every prefix is listed
// on its own, concurrently. A bucket without "/" in its keys, or with a
// single top-level prefix, is therefore listed sequentially.
//
// Counting stops at Reader.ObjectCap objects per bucket (default 1,000,000):
// a bucket with more than ObjectCap objects reports exactly ObjectCap
// Objects, the Bytes and recent counts of those objects, and Truncated true;
// its counts are then lower bounds. A bucket with at most ObjectCap objects
// is counted exactly and Truncated is false. Which objects make up the
// counted ObjectCap of a truncated bucket is not defined (prefixes are listed
// concurrently). The cap bounds the time a plan spends on very large buckets,
// where counts only feed estimates (copy duration, standby delta).
//
// The bucket policy is read only to tell whether one exists and whether any
// statement has a Condition; its text is never stored.
package live
