// Command fakelist is the benchmark's listing-only S3 endpoint: every bucket
// it is asked about holds the same n objects, generated from their index and
// never stored, so that a no-op re-sync of a million objects (two listings
// merge-joined, nothing to copy) can be measured without first writing a
// million objects into a server. It answers ListObjectsV2 (prefix,
// delimiter, start-after, continuation tokens, max-keys up to 1,000, as S3)
// and HeadBucket, and what a copy into a bucket of its run asks first:
// its unfinished uploads (none), and a multipart upload started and aborted
// (answered as by a server that keeps no encryption). Anything else is
// answered 501 and logged, so a client that needs more than listings fails
// loudly. It is not part of the product.
//
// Keys are obj/PP/NNNNNNN: n objects over the given number of prefixes,
// in key order by index, all of the same size and ETag.
package main

import (
	"encoding/xml"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
)

func main() {
	n := flag.Int("n", 1_000_000, "objects in every bucket")
	prefixes := flag.Int("prefixes", 100, "prefixes the objects are spread over (at most 100)")
	size := flag.Int64("size", 1024, "size of every object")
	addr := flag.String("addr", "127.0.0.1:0", "address to listen on")
	flag.Parse()
	if *prefixes < 1 || *prefixes > 100 || *n < 1 {
		fmt.Fprintln(os.Stderr, "fakelist: -n must be positive and -prefixes between 1 and 100")
		os.Exit(2)
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "fakelist:", err)
		os.Exit(1)
	}
	// The address on stdout is how the caller learns the port.
	fmt.Println("http://" + ln.Addr().String())
	os.Stdout.Sync()
	ks := keyspace{n: *n, perPrefix: (*n + *prefixes - 1) / *prefixes, size: *size}
	log.Fatal(http.Serve(ln, ks))
}

type keyspace struct {
	n, perPrefix int
	size         int64
}

func (k keyspace) key(i int) string { return fmt.Sprintf("obj/%02d/%07d", i/k.perPrefix, i) }

// first is the index of the first key for which ok holds; ok must be
// false then true along the key order.
func (k keyspace) first(from int, ok func(string) bool) int {
	return from + sort.Search(k.n-from, func(j int) bool { return ok(k.key(from + j)) })
}

func (k keyspace) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	bucket := strings.Trim(r.URL.Path, "/")
	q := r.URL.Query()
	switch {
	case r.Method == http.MethodHead && bucket != "" && !strings.Contains(bucket, "/"):
		w.WriteHeader(http.StatusOK)
	case r.Method == http.MethodGet && q.Get("list-type") == "2" && !strings.Contains(bucket, "/"):
		k.list(w, bucket, q)
	case r.Method == http.MethodGet && q.Has("uploads") && !strings.Contains(bucket, "/"):
		writeXML(w, uploadsResult{Bucket: bucket})
	case r.Method == http.MethodPost && q.Has("uploads") && strings.Contains(bucket, "/"):
		b, key, _ := strings.Cut(bucket, "/")
		writeXML(w, initiateResult{Bucket: b, Key: key, UploadID: "fakelist-upload"})
	case r.Method == http.MethodDelete && q.Get("uploadId") != "":
		w.WriteHeader(http.StatusNoContent)
	default:
		log.Printf("not implemented: %s %s", r.Method, r.URL)
		http.Error(w, "not implemented", http.StatusNotImplemented)
	}
}

type uploadsResult struct {
	XMLName     xml.Name `xml:"http://s3.amazonaws.com/doc/2006-03-01/ ListMultipartUploadsResult"`
	Bucket      string   `xml:"Bucket"`
	IsTruncated bool     `xml:"IsTruncated"`
}

type initiateResult struct {
	XMLName  xml.Name `xml:"http://s3.amazonaws.com/doc/2006-03-01/ InitiateMultipartUploadResult"`
	Bucket   string   `xml:"Bucket"`
	Key      string   `xml:"Key"`
	UploadID string   `xml:"UploadId"`
}

func writeXML(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/xml")
	fmt.Fprint(w, xml.Header)
	if err := xml.NewEncoder(w).Encode(v); err != nil {
		log.Printf("answer: %v", err)
	}
}

type listResult struct {
	XMLName               xml.Name       `xml:"http://s3.amazonaws.com/doc/2006-03-01/ ListBucketResult"`
	Name                  string         `xml:"Name"`
	Prefix                string         `xml:"Prefix"`
	Delimiter             string         `xml:"Delimiter,omitempty"`
	StartAfter            string         `xml:"StartAfter,omitempty"`
	ContinuationToken     string         `xml:"ContinuationToken,omitempty"`
	NextContinuationToken string         `xml:"NextContinuationToken,omitempty"`
	KeyCount              int            `xml:"KeyCount"`
	MaxKeys               int            `xml:"MaxKeys"`
	IsTruncated           bool           `xml:"IsTruncated"`
	Contents              []listObject   `xml:"Contents"`
	CommonPrefixes        []commonPrefix `xml:"CommonPrefixes"`
}

type listObject struct {
	Key          string `xml:"Key"`
	LastModified string `xml:"LastModified"`
	ETag         string `xml:"ETag"`
	Size         int64  `xml:"Size"`
	StorageClass string `xml:"StorageClass"`
}

type commonPrefix struct {
	Prefix string `xml:"Prefix"`
}

// list answers one ListObjectsV2 page. The continuation token is the index
// of the next key, so a page that ended on a common prefix resumes after it.
func (k keyspace) list(w http.ResponseWriter, bucket string, q map[string][]string) {
	get := func(name string) string {
		if v := q[name]; len(v) > 0 {
			return v[0]
		}
		return ""
	}
	prefix, delim, after, token := get("prefix"), get("delimiter"), get("start-after"), get("continuation-token")
	limit := 1000
	if v := get("max-keys"); v != "" {
		if m, err := strconv.Atoi(v); err == nil && m >= 0 && m < limit {
			limit = m
		}
	}
	i := k.first(0, func(s string) bool { return s >= prefix && s > after })
	if token != "" {
		t, err := strconv.Atoi(token)
		if err != nil || t < 0 || t > k.n {
			http.Error(w, "bad continuation token", http.StatusBadRequest)
			return
		}
		i = max(i, t)
	}
	res := listResult{Name: bucket, Prefix: prefix, Delimiter: delim, StartAfter: after, ContinuationToken: token, MaxKeys: limit}
	for i < k.n && res.KeyCount < limit {
		key := k.key(i)
		if !strings.HasPrefix(key, prefix) {
			i = k.n
			break
		}
		rest := key[len(prefix):]
		if j := strings.Index(rest, delim); delim != "" && j >= 0 {
			cp := prefix + rest[:j+len(delim)]
			res.CommonPrefixes = append(res.CommonPrefixes, commonPrefix{Prefix: cp})
			i = k.first(i, func(s string) bool { return !strings.HasPrefix(s, cp) && s > cp })
		} else {
			res.Contents = append(res.Contents, listObject{Key: key, LastModified: "2026-01-01T00:00:00.000Z",
				ETag: fmt.Sprintf("\"%032x\"", i), Size: k.size, StorageClass: "STANDARD"})
			i++
		}
		res.KeyCount++
	}
	if i < k.n && strings.HasPrefix(k.key(i), prefix) {
		res.IsTruncated = true
		res.NextContinuationToken = strconv.Itoa(i)
	}
	writeXML(w, res)
}
