package bucket

import (
	"errors"
	"sort"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"
)

func errorCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

func isNotFound(err error) bool {
	switch errorCode(err) {
	case "NoSuchUpload", "NoSuchKey", "NotFound", "NoSuchBucket":
		return true
	}
	return false
}

func httpStatus(err error) int {
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// changedUnderneath reports an error saying the source object was deleted
// or rewritten after it was listed: CopyObject's NoSuchKey, a HEAD's 404,
// or a part copy's failed If-Match.
func changedUnderneath(err error) bool {
	switch errorCode(err) {
	case "NoSuchKey", "NotFound", "PreconditionFailed":
		return true
	}
	return false
}

// archivedError is a copy S3 refused because its source is archived
// (GLACIER, DEEP_ARCHIVE, an archive tier of INTELLIGENT_TIERING) and not
// restored: its message says so, and what to do.
type archivedError struct{ err error }

func (e *archivedError) Error() string {
	return e.err.Error() + "\nthe object is archived and not restored: S3 copies it only while a restored copy is available. " +
		"Restore the bucket's archived objects for longer than the run (aws s3api restore-object), then run again (resume, or plan and apply after a rollback)"
}

func (e *archivedError) Unwrap() error { return e.err }

// explainArchived makes err an *archivedError when S3 refused a copy of an
// archived object.
func explainArchived(err error) error {
	switch errorCode(err) {
	case "InvalidObjectState", "ObjectNotInActiveTierError":
		return &archivedError{err: err}
	}
	return err
}
