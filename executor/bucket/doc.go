// Package bucket copies, verifies, records, creates and deletes S3 buckets
// for envmig's bucket steps, without destroying what users wrote.
//
// # The copy engine
//
// A Syncer makes a destination bucket hold what a source bucket holds. It
// lists both buckets as streams in key order (ListObjectsV2 pages, several
// key ranges listed at once for large buckets, still merged in order),
// merge-joins the two streams and decides per key: copy (missing or
// different), delete (only in the destination, when Delete is set) or skip.
// Memory is bounded by the channel capacities and the number of copies in
// flight, never by the number of objects.
//
// Copies are server-side. An object whose source ETag is a plain MD5 and
// whose size is at most MultipartThreshold is copied by one CopyObject with
// the metadata and tag directives set to COPY; the copy keeps the ETag. A
// multipart source ("<hex>-N" ETag) is copied by UploadPartCopy with the
// same part boundaries, so the copy's ETag equals the source's; a
// single-part source above the threshold is copied in PartSize parts (its
// copy verifies by checksum or content only). Multipart copies carry the
// metadata, content headers, tags and storage class of the source
// explicitly; a failed multipart copy is aborted. Every copy reads the
// version the listing saw (If-Match on the listed ETag).
//
// Every copy, of any size, keeps its source object's server-side
// encryption: the algorithm, the SSE-KMS key and the bucket-key setting.
// S3 would otherwise encrypt a copy with the destination bucket's default.
// No listing says how an object is encrypted, and a bucket's default does
// not prove it (a writer may name another key), so each copied object is
// HEADed first, inside the same worker slot as its copy: one more request
// per copied single-part object (multipart copies HEAD anyway), none per
// skipped object. A KMS key belongs to a region: a copy into another
// region names the key Syncer.MapKMSKey gives for the source's.
//
// That HEAD is saved where it can change nothing: before copying into a
// bucket of the run (AbortStaleUploads), the engine starts a multipart
// upload there that asks for SSE-S3 and aborts it at once. S3 names the
// encryption in its answer; a server that answers without one keeps no
// encryption (some S3-compatible servers), so no copy into it could keep
// its source's, and the copies go without the HEADs
// (Result.UnencryptedDestination). A refused probe keeps the HEADs. Into a
// bucket users own, nothing is probed and every copy HEADs.
//
// Identity: two objects are the same when their sizes are equal and their
// ETags are equal and of the same layout (both plain, or both multipart with
// the same part count). When the layouts differ, a listing cannot decide;
// the Syncer copies such an object again unless both carry stored checksums
// of one algorithm and a HEAD of each shows equal values.
//
// Workers never print: they update a Progress's atomic counters, and one
// reporter reads Progress.Snapshot. Throttling (SlowDown, 503) is retried by
// the SDK's retryer; the Syncer also halves its number of copies in flight
// when it sees throttling and grows it back one by one (AIMD).
//
// A Syncer is resumable by nature: a run killed midway and run again copies
// only what is missing or different, and aborts the multipart uploads an
// earlier attempt left on the keys it copies.
//
// # Manifests
//
// A manifest is a key-ordered record of a bucket's contents, streamed as
// gzip'd JSON lines (a header, one entry per line, a trailer with the
// counts and the SHA-256 of the entries): the current objects (key, size,
// ETag, last-modified) of a bucket whose versioning was never enabled, or
// every version and delete marker of one whose versioning was. TakeManifest
// lists a bucket into one; a Syncer with SourceManifest records the source
// it lists anyway. ChangesSince merges a fresh listing with a manifest and
// reports what was added, removed or changed since: the freeze proof that
// an original still holds what was verified. Readers refuse a truncated,
// reordered or altered manifest, and one of another bucket.
//
// # Protected sync into an original
//
// A Syncer with Protect (the destination's verified manifest) overwrites or
// deletes a destination object only while it still equals its manifest
// entry: what users wrote, rewrote or deleted after verification is kept as
// they left it, and counted in Result.Kept. See Syncer.Protect for what it
// checks when.
//
// # Emptying and deleting buckets
//
// EmptyBucket never deletes from a listing it is still paginating: it lists
// a batch of pages, deletes them in parallel, and lists again from the
// start until a fresh listing is empty, so no server's page markers can
// skip entries. With EmptyOptions.Only it deletes only what a manifest
// lists (versions by ID; current objects only while their ETag and size
// are unchanged) and reports anything left in a *NotEmptyError, so that a
// guarded delete of an original never destroys a late write; DeleteBucket
// then keeps the bucket.
//
// # Verification
//
// Verify compares two buckets by manifest (key, size, identity) at a level:
// "count" (keys and sizes), "etag" (plus identity by listing), "checksum"
// (plus stored checksums by HEAD where both objects have one, and a HEAD of
// pairs whose ETags differ: an SSE-KMS object's ETag is no content digest,
// so such a pair is unverifiable at this level rather than different) or
// "content" (plus a streamed SHA-256 of both bodies where nothing else
// decides). Its cost is two listings unless a level asks for more.
//
// # Versioned histories
//
// A HistorySyncer copies every version and delete marker of each key of a
// versioned source into a versioned destination, oldest to newest: a
// version by CopyObject (or UploadPartCopy) of that version ID, a delete
// marker by a DeleteObject of the key. Version IDs change; each key's
// order is kept. For each key the destination's history must be a prefix
// of the source's (kinds, sizes and identities at the same positions), and
// only the missing tail is copied, so a run again resumes and a later run
// copies what is new. A key whose destination history is not such a prefix
// is a *DivergedError, or with RewriteDiverged (a destination the run
// created) is deleted and copied again. VerifyHistory compares two
// histories; CountHistory counts what a copy of current objects would lose.
//
// Order of a key's entries. S3 lists a key's entries newest first, but the
// SDK returns versions and delete markers in two slices, each in the
// server's order, and LastModified has one-second precision. ListHistories
// merges the slices by LastModified. Where a version and a delete marker of
// one key share a second, the entry listed IsLatest comes first, and the
// rest is asked of the server: for each entry of the less numerous kind, one
// ListObjectVersions starting after it (KeyMarker, VersionIdMarker) shows
// which entries of the other kind it lists after it. The order is therefore
// the server's own, never a guess; should the server's answers disagree
// (the history changed meanwhile), the listing fails and a run again
// re-reads it.
//
// As of a moment. An AsOfSyncer copies, for each key, the version that was
// current at a moment T: its newest entry whose LastModified is at or
// before T, both taken to the whole second. A key whose entry then is a
// delete marker, or that had none, is not copied. Every write made before T
// is included, and so are writes made in the rest of T's second.
//
// # Step handlers
//
// Handlers returns the executor.Handler of every bucket step action. Each is
// idempotent; BucketCreate adopts only a bucket tagged with this run, and
// its Revert deletes only such a bucket.
package bucket
