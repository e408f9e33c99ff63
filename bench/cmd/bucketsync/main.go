// Command bucketsync is envmig's side of the bucket benchmark: it syncs one
// bucket into another with the copy engine and the settings the product
// uses, or verifies two buckets by manifest. It is not part of the product.
package main

import (
	"context"
	"flag"
	"fmt"
	"maps"
	"os"
	"runtime/pprof"
	"slices"
	"sync"
	"time"

	"github.com/envmig/envmig/executor/bucket"
	"github.com/envmig/envmig/internal/awsclient"
)

func main() {
	src := flag.String("src", "", "source bucket")
	dst := flag.String("dst", "", "destination bucket")
	verify := flag.String("verify", "", "verify at this level (count|etag|checksum|content) instead of copying")
	conc := flag.Int("concurrency", bucket.DefaultConcurrency, "copies in flight")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile to this file")
	requests := flag.Bool("requests", false, "print the number of requests of each S3 operation")
	flag.Parse()
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "bucketsync:", err)
			os.Exit(1)
		}
		defer pprof.StopCPUProfile()
	}
	if err := run(*src, *dst, *verify, *conc, *requests); err != nil {
		fmt.Fprintln(os.Stderr, "bucketsync:", err)
		pprof.StopCPUProfile()
		os.Exit(1)
	}
}

func run(src, dst, level string, conc int, requests bool) error {
	ctx := context.Background()
	cfg, err := awsclient.Load(ctx, awsclient.Options{HTTPClient: awsclient.HTTPClient(conc)})
	if err != nil {
		return err
	}
	if requests {
		var mu sync.Mutex
		counts := map[string]int{}
		awsclient.Trace(&cfg, func(c awsclient.Call) {
			mu.Lock()
			counts[c.Operation]++
			mu.Unlock()
		})
		defer func() {
			mu.Lock()
			defer mu.Unlock()
			for _, op := range slices.Sorted(maps.Keys(counts)) {
				fmt.Printf("requests %s %d\n", op, counts[op])
			}
		}()
	}
	c := awsclient.NewS3(cfg, "")
	if level != "" {
		rep, err := bucket.Verify(ctx, c, c, src, dst, level)
		if err != nil {
			return err
		}
		fmt.Printf("verified %d objects (%s): %d differences\n", rep.Objects, level, rep.Count)
		for i, d := range rep.Differences {
			if i == 10 {
				break
			}
			fmt.Printf("  %s\n", d)
		}
		if rep.Count > 0 {
			return fmt.Errorf("%d differences", rep.Count)
		}
		return nil
	}
	// As the product copies into a bucket of its run: it deletes what the
	// source lacks, aborts stale uploads and asks whether the destination
	// keeps server-side encryption.
	s := &bucket.Syncer{Src: c, Dst: c, SrcBucket: src, DstBucket: dst, Delete: true, AbortStaleUploads: true, Concurrency: conc}
	res, err := s.Run(ctx)
	if err != nil {
		return err
	}
	fmt.Printf("scanned %d, copied %d (%d bytes), skipped %d, deleted %d in %s\n",
		res.Scanned, res.Copied, res.CopiedBytes, res.Skipped, res.Deleted, res.Elapsed.Round(time.Millisecond))
	if res.UnencryptedDestination {
		fmt.Println("the destination keeps no server-side encryption: no object's was read")
	}
	return nil
}
