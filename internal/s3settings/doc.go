// Package s3settings reads the configuration of an S3 bucket — every
// bucket-level setting a migration carries to a new bucket — and gives each
// setting a canonical form, a digest and a one-line summary.
//
// It is shared by the two sides that must agree on what a setting is: the
// planner's live reader (planner/live), which records each setting's digest
// in the plan's observations, and the executor's bucket handlers
// (executor/bucket), which read the source again when they carry the
// settings and refuse when a digest differs from the plan's. Both therefore
// compute digests with this package's Config.Digest, never on their own.
//
// # Settings
//
// A setting is one of the Names: the bucket policy, public-access block,
// ownership controls, default encryption, lifecycle rules, CORS, event
// notifications, server access logging, static website, request payment,
// tags, object lock and replication, plus transfer acceleration. Versioning
// is not one of them: the bucket handlers manage it.
//
// Each setting read ends in one of three states:
//   - Present: the bucket has it (its canonical form and digest describe it);
//   - Absent: S3 answered "not configured" (NoSuchLifecycleConfiguration,
//     NoSuchCORSConfiguration, an empty notification configuration, ...) —
//     an observation, not an error;
//   - Unsupported: the endpoint does not implement the read (HTTP 501
//     NotImplemented, as S3-compatible servers answer for features they lack)
//     — an observation too.
//
// Any other failed read is a *ReadError naming the setting and the IAM
// action the read needs (access denied, throttling the SDK's retryer gave up
// on, a network failure).
//
// # Canonical form and digests
//
// A setting's canonical form is a JSON encoding of its content in which the
// order S3 does not give a meaning to is fixed: lifecycle rules and
// replication rules sorted by ID, notification configurations by ID, tags by
// key, the policy document re-encoded with sorted keys. CORS rules and
// website routing rules keep their order (the first match wins). The digest
// is the first 16 hex digits of the SHA-256 of the canonical form;
// DigestAbsent and DigestUnsupported stand for the two other states.
//
// Tags are the bucket's user tags only: keys under "envmig:" (envmig's own
// marks) and "aws:" (reserved, set by AWS services) are neither digested nor
// carried.
//
// Reads are read-only (Get* operations); a Config is plain data, safe to
// share once read, and survives an Encode/Decode round trip so that a step
// can journal what it read.
package s3settings
