// Package bucket copies, verifies, creates and deletes S3 buckets for
// envmig's bucket steps.
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
// metadata, content headers, tags, storage class and encryption settings of
// the source explicitly; a failed multipart copy is aborted.
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
// # Verification
//
// Verify compares two buckets by manifest (key, size, identity) at a level:
// "count" (keys and sizes), "etag" (plus identity by listing), "checksum"
// (plus stored checksums by HEAD where both objects have one) or "content"
// (plus a streamed SHA-256 of both bodies where nothing else decides). Its
// cost is two listings unless a level asks for more.
//
// # Step handlers
//
// Handlers returns the executor.Handler of every bucket step action. Each is
// idempotent; BucketCreate adopts only a bucket tagged with this run, and
// its Revert deletes only such a bucket.
package bucket
