package s3state

import (
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"io/fs"
	"math/rand/v2"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/google/go-cmp/cmp"

	"github.com/envmig/envmig/statefile"
)

func blobContent(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, seed))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func writeBlob(t *testing.T, j statefile.Journal, run, name string, data []byte) {
	t.Helper()
	w, err := j.CreateBlob(t.Context(), run, name)
	if err != nil {
		t.Fatal(err)
	}
	for rest := data; len(rest) > 0; {
		n := min(len(rest), 100_003)
		if _, err := w.Write(rest[:n]); err != nil {
			t.Fatal(err)
		}
		rest = rest[n:]
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

func readBlob(t *testing.T, j statefile.Journal, run, name string) []byte {
	t.Helper()
	r, err := j.OpenBlob(t.Context(), run, name)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	data, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// Blobs of several MB round-trip streamed (a multipart upload of 5 MiB
// parts), small ones in one request; an aborted or cancelled upload leaves
// the previous blob and no upload behind.
func TestBlobs(t *testing.T) {
	cl := setup(t)
	b := open(t, nil)
	j := b.Journal("production")
	big := blobContent(11<<20+5, 3) // three parts, the last one short
	writeBlob(t, j, "3fa2c1d0-run", "manifest.orders", big)
	writeBlob(t, j, "3fa2c1d0-run", "manifest.assets", []byte("small"))
	writeBlob(t, j, "0b6e7c52-run", "empty", nil)
	if got := readBlob(t, j, "3fa2c1d0-run", "manifest.orders"); sha256.Sum256(got) != sha256.Sum256(big) {
		t.Fatalf("blob read back with %d bytes, want the %d written", len(got), len(big))
	}
	list, err := j.Blobs(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	want := []statefile.BlobInfo{{Run: "0b6e7c52-run", Name: "empty"}, {Run: "3fa2c1d0-run", Name: "manifest.assets", Size: 5}, {Run: "3fa2c1d0-run", Name: "manifest.orders", Size: int64(len(big))}}
	if diff := cmp.Diff(want, list); diff != "" {
		t.Errorf("Blobs (-want +got):\n%s", diff)
	}

	// An upload aborted after a part, and one whose context ended.
	w, err := j.CreateBlob(t.Context(), "3fa2c1d0-run", "manifest.orders")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(blobContent(6<<20, 4)); err != nil {
		t.Fatal(err)
	}
	if err := w.Abort(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	w, err = j.CreateBlob(ctx, "3fa2c1d0-run", "manifest.orders")
	if err != nil {
		t.Fatal(err)
	}
	w.Write(blobContent(6<<20, 5))
	cancel()
	if err := w.Close(); !errors.Is(err, context.Canceled) {
		t.Errorf("Close after the context ended: %v", err)
	}
	if got := readBlob(t, j, "3fa2c1d0-run", "manifest.orders"); sha256.Sum256(got) != sha256.Sum256(big) {
		t.Error("an aborted upload changed the blob")
	}
	ups, err := cl.ListMultipartUploads(t.Context(), &s3.ListMultipartUploadsInput{Bucket: aws.String(bucket)})
	if err != nil {
		t.Fatal(err)
	}
	if len(ups.Uploads) != 0 {
		t.Errorf("%d multipart uploads left behind", len(ups.Uploads))
	}

	var nf *statefile.NotFoundError
	if _, err := j.OpenBlob(t.Context(), "3fa2c1d0-run", "missing"); !errors.As(err, &nf) || !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("OpenBlob of a missing blob: %v", err)
	}
	if _, err := j.CreateBlob(t.Context(), "run", "../production.state.json"); !errors.Is(err, statefile.ErrInvalidName) {
		t.Errorf("CreateBlob with a path: %v", err)
	}
	if names, _ := b.Journals(t.Context()); len(names) != 0 {
		t.Errorf("blobs listed as journals: %v", names)
	}
}
