// Package s3state keeps envmig's journals in an S3 bucket, so that a run
// survives the machine it started on: a CI job that dies leaves its journal
// and its lock where the next job, on another runner, finds them.
//
// # Objects
//
// Under the backend's prefix, for each journal name:
//
//	<name>.state.json        the State, as the local backend writes it;
//	                         its earlier versions are the bucket's versions
//	<name>.lock.json         the lock: the holder's LockInfo and its lease
//	<name>.blobs/<run>/<b>   blobs of the journal's runs (copy manifests)
//	<name>.migrated.json     the MigrationNote of a journal moved away
//
// # Writes that cannot be lost
//
// Every write of the state is conditional: If-Match on the ETag this
// process last read or wrote, or If-None-Match: * for a journal it found
// empty. A process that is not up to date, for whatever reason (it lost its
// lock, or runs beside another one by mistake), gets a
// *statefile.ConflictError and writes nothing: it can never overwrite a
// newer journal. A write whose response was lost is recognised by its
// content when the retry finds it. The bucket must be versioned, so every
// state ever written can be recovered (LoadBackup reads the version before
// the current one; a corrupt state's error says how to restore one).
//
// # The lock: a lease
//
// Lock creates the lock object with If-None-Match: *. Its holder rewrites
// it every RenewEvery with If-Match on its own ETag, which moves its
// Last-Modified; a lock not rewritten for Lease has expired and is taken
// over (If-Match on its ETag, so two takers cannot both win), and
// Lock.TookOver names the previous holder. Expiry is judged by S3's clock
// (the Date of the response against the object's Last-Modified, whole
// seconds, plus one second of margin), so the holders' clocks never
// matter; the holder counts its lease from when it sent its last renewal,
// so it gives up before anyone may take over. A holder whose renewal fails
// (taken over, force-unlocked, or S3 unreachable until its lease ends) has
// lost the lock: Lock.Lost is closed, Lock.Err says why, and its Journal
// refuses every Save and blob from then on (*statefile.LockLostError); the
// If-Match on the state would refuse them anyway. A holder cut off from S3
// signals the loss the moment its lease ends, before anyone may take over;
// one that stalled past its lease still tries its (conditional) renewal,
// which succeeds only if nobody took the lock meanwhile, and otherwise
// names the new holder (LockLostError.By). Unlock deletes the lock
// object with If-Match on its own ETag, so a lock taken over is never
// deleted by its previous holder. S3 accepts conditional deletes on
// general purpose buckets since September 2025.
//
// # The bucket
//
// Open refuses a bucket that is missing, not versioned, without default
// encryption, or whose own Public Access Block is not fully on (all four
// settings). The account-level block is not consulted: the guarantee must
// hold whatever the account's settings, and reading them needs permissions
// beyond the bucket. envmig never creates or configures its state bucket.
// Conditional write failures are answered 412 PreconditionFailed (moto
// too), or 404 NoSuchKey for If-Match on a key that is gone; S3's 409
// ConditionalRequestConflict (a concurrent conditional write in progress)
// is retried.
//
// # Permissions
//
// On the bucket: s3:GetBucketVersioning, s3:GetEncryptionConfiguration,
// s3:GetBucketPublicAccessBlock, s3:ListBucket, s3:ListBucketVersions. On
// <bucket>/<prefix>*: s3:GetObject, s3:GetObjectVersion, s3:PutObject,
// s3:DeleteObject, s3:AbortMultipartUpload (plus kms:GenerateDataKey and
// kms:Decrypt on the key when the bucket encrypts with SSE-KMS).
package s3state
