// Command benchdata makes the benchmark's datasets: it creates a bucket and
// uploads n objects of a given size with many goroutines, or rewrites one
// in every hundred of them with new bytes of the same size ("1 % changed").
// It is not part of the product.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"sync/atomic"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
	"golang.org/x/sync/errgroup"

	"github.com/envmig/envmig/internal/awsclient"
)

func main() {
	b := flag.String("bucket", "", "bucket")
	n := flag.Int("n", 0, "objects")
	size := flag.Int("size", 4096, "bytes per object")
	mutate := flag.Int("mutate", 0, "rewrite one object in every N (0 = upload all)")
	seed := flag.Uint64("seed", 1, "content seed")
	create := flag.Bool("create", false, "only create the (empty) bucket")
	prefixes := flag.Int("prefixes", 1, "spread the keys over this many prefixes (1 = flat)")
	flag.Parse()
	if err := run(*b, *n, *size, *mutate, *seed, *create, *prefixes); err != nil {
		fmt.Fprintln(os.Stderr, "benchdata:", err)
		os.Exit(1)
	}
}

// key names the i-th object: zero-padded numbers under obj/, flat or
// spread round-robin over prefixes obj/NN/.
func key(i, prefixes int) string {
	if prefixes <= 1 {
		return fmt.Sprintf("obj/%07d", i)
	}
	return fmt.Sprintf("obj/%02d/%07d", i%prefixes, i)
}

func run(b string, n, size, mutate int, seed uint64, create bool, prefixes int) error {
	ctx := context.Background()
	cfg, err := awsclient.Load(ctx, awsclient.Options{HTTPClient: awsclient.HTTPClient(64)})
	if err != nil {
		return err
	}
	c := awsclient.NewS3(cfg, "")
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: &b}); err != nil {
		var ae smithy.APIError
		if !errors.As(err, &ae) || (ae.ErrorCode() != "BucketAlreadyOwnedByYou" && ae.ErrorCode() != "BucketAlreadyExists") {
			return fmt.Errorf("create bucket %s: %w", b, err)
		}
	}
	if create {
		return nil
	}
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(64)
	var done atomic.Int64
	for i := range n {
		if mutate > 0 && i%mutate != 0 {
			continue
		}
		g.Go(func() error {
			r := rand.New(rand.NewPCG(seed, uint64(i)))
			body := make([]byte, size)
			for j := 0; j+8 <= size; j += 8 {
				v := r.Uint64()
				for k := range 8 {
					body[j+k] = byte(v >> (8 * k))
				}
			}
			_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: &b, Key: aws.String(key(i, prefixes)), Body: bytes.NewReader(body), ContentLength: aws.Int64(int64(size)), ContentType: aws.String("application/octet-stream")})
			if err != nil {
				return fmt.Errorf("put %s: %w", key(i, prefixes), err)
			}
			done.Add(1)
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	fmt.Printf("%s: wrote %d objects of %d bytes\n", b, done.Load(), size)
	return nil
}
