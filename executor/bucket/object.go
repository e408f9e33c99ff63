package bucket

import (
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// Object is what a listing says of one object: everything the engine keeps
// in memory per key.
type Object struct {
	Key  string
	Size int64
	// ETag without quotes.
	ETag string
	// Checksum is the stored checksum's algorithm ("CRC32", ...) or "".
	Checksum     string
	StorageClass string
	// LastModified as listed (manifests record it).
	LastModified time.Time
}

func objectFromListing(o *types.Object) Object {
	obj := Object{Key: aws.ToString(o.Key), Size: aws.ToInt64(o.Size), ETag: unquote(aws.ToString(o.ETag)), LastModified: aws.ToTime(o.LastModified).UTC()}
	if len(o.ChecksumAlgorithm) > 0 {
		obj.Checksum = string(o.ChecksumAlgorithm[0])
	}
	if o.StorageClass != "" && o.StorageClass != types.ObjectStorageClassStandard {
		obj.StorageClass = string(o.StorageClass)
	}
	return obj
}

func unquote(etag string) string {
	if len(etag) >= 2 && etag[0] == '"' && etag[len(etag)-1] == '"' {
		return etag[1 : len(etag)-1]
	}
	return etag
}

// Parts returns the part count of a multipart ETag ("<hex>-N"), 0 for a
// single-part ETag.
func (o Object) Parts() int {
	i := strings.LastIndexByte(o.ETag, '-')
	if i < 0 {
		return 0
	}
	n, err := strconv.Atoi(o.ETag[i+1:])
	if err != nil || n < 1 {
		return 0
	}
	return n
}

// Identity is what a listing can say about two objects under one key.
type Identity int

const (
	// Same: equal size and equal ETags of one layout.
	Same Identity = iota
	// Different: sizes differ, or ETags of one layout differ.
	Different
	// Undecided: equal sizes, ETags of different layouts (a plain and a
	// multipart one, or different part counts). Only stored checksums or
	// the content can decide.
	Undecided
)

func (i Identity) String() string {
	return [...]string{"same", "different", "undecided"}[i]
}

// Compare decides by listing alone whether src and dst hold the same
// content.
func Compare(src, dst Object) Identity {
	if src.Size != dst.Size {
		return Different
	}
	if src.ETag == dst.ETag && src.ETag != "" {
		return Same
	}
	if src.Parts() == dst.Parts() {
		return Different
	}
	return Undecided
}

// sameChecksumAlgorithm reports whether both objects carry stored checksums
// of one algorithm, so a HEAD of each can decide.
func sameChecksumAlgorithm(a, b Object) bool {
	return a.Checksum != "" && a.Checksum == b.Checksum
}
