// Package faultproxy is a reverse proxy in front of the AWS emulator that
// injects the faults real AWS has, by seed: server errors, throttling
// bursts, connection resets, slow responses, requests applied whose
// response is lost, NotFound right after a create (eventual consistency),
// and permanent errors. envmig runs through it unchanged: AWS_ENDPOINT_URL
// points at the proxy.
//
// Requests are classified by the service in their signature's credential
// scope and the operation in their body (query protocol), target header
// (JSON protocol) or method and path (S3), so faults speak each protocol's
// error format and the SDK reacts as it would to AWS.
//
// A failing seed replays: each request draws from its own random source,
// seeded by the seed, its operation ("rds:CreateDBSnapshot", "s3:Put") and
// how many requests of that operation came before it, never from one
// source shared by all requests in arrival order, which the copy's
// concurrent workers interleave differently on every run. (Names and
// bodies are not part of it: they hold the run's random lineage.) A
// throttling burst throttles the next BurstLength-1 requests of the
// operation that started it.
package faultproxy

import (
	"bytes"
	"fmt"
	"hash/fnv"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"
)

// Config sets the fault rates (0..1) and the seed.
type Config struct {
	Seed int64
	// ServerError is the rate of 500/503 responses.
	ServerError float64
	// ThrottleBurst is the rate at which a throttling burst starts; a
	// burst throttles BurstLength requests of one operation (default 3).
	ThrottleBurst float64
	BurstLength   int
	// Reset is the rate of connections closed without a response.
	Reset float64
	// Slow is the rate of responses delayed by SlowDelay before a reset
	// (a timeout seen from the client).
	Slow      float64
	SlowDelay time.Duration
	// LostResponse is the rate, among mutating requests, of requests
	// forwarded (so applied) whose response is replaced by a reset.
	LostResponse float64
	// NotFoundAfterCreate is the rate of describes answered NotFound for a
	// resource created in the last NotFoundWindow (default 3s).
	NotFoundAfterCreate float64
	NotFoundWindow      time.Duration
	// Permanent maps "service:Operation" ("rds:RestoreDBInstanceFromDBSnapshot")
	// to an error code returned every time (AccessDenied,
	// InvalidDBInstanceState, ...).
	Permanent map[string]string
}

// Proxy is a running fault-injecting proxy.
type Proxy struct {
	URL string
	srv *httptest.Server
	cfg Config

	mu      sync.Mutex
	seen    map[string]int       // operation -> its requests so far
	burst   map[string]int       // operation -> throttles still due
	created map[string]time.Time // resource identifier -> when created
	stats   Stats
}

// Stats count what the proxy saw and did.
type Stats struct {
	Requests, Forwarded                                              int
	ServerErrors, Throttled, Resets, Slow, Lost, NotFound, Permanent int
}

// Start proxies to target (the emulator's base URL).
func Start(target string, cfg Config) (*Proxy, error) {
	u, err := url.Parse(target)
	if err != nil {
		return nil, err
	}
	if cfg.BurstLength <= 0 {
		cfg.BurstLength = 3
	}
	if cfg.NotFoundWindow <= 0 {
		cfg.NotFoundWindow = 3 * time.Second
	}
	if cfg.SlowDelay <= 0 {
		cfg.SlowDelay = 500 * time.Millisecond
	}
	p := &Proxy{cfg: cfg, seen: map[string]int{}, burst: map[string]int{}, created: map[string]time.Time{}}
	rp := httputil.NewSingleHostReverseProxy(u)
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { p.serve(w, r, rp) }))
	p.URL = p.srv.URL
	return p, nil
}

// Close stops the proxy.
func (p *Proxy) Close() { p.srv.Close() }

// Stats returns the counters so far.
func (p *Proxy) Stats() Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stats
}

// op is a classified request.
type op struct {
	service, name string
	mutating      bool
	target        string // the identifier it creates or reads, when known
	body          []byte
}

var scopeRE = regexp.MustCompile(`Credential=[^/]+/[0-9]+/[^/]+/([^/]+)/aws4_request`)

func classify(r *http.Request) op {
	body, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(body))
	o := op{body: body}
	if m := scopeRE.FindStringSubmatch(r.Header.Get("Authorization")); m != nil {
		o.service = m[1]
	}
	switch {
	case o.service == "s3":
		o.name, o.mutating, o.target = s3Op(r)
	case r.Header.Get("X-Amz-Target") != "":
		t := r.Header.Get("X-Amz-Target")
		o.name = t[strings.LastIndex(t, ".")+1:]
		o.mutating = !readOnly(o.name)
	default:
		form, _ := url.ParseQuery(string(body))
		o.name = form.Get("Action")
		o.mutating = !readOnly(o.name)
		for _, k := range []string{"DBSnapshotIdentifier", "TargetDBSnapshotIdentifier", "DBInstanceIdentifier", "NewDBInstanceIdentifier"} {
			if v := form.Get(k); v != "" {
				o.target = v
			}
		}
	}
	return o
}

func readOnly(name string) bool {
	for _, p := range []string{"Describe", "List", "Get", "Head"} {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

// s3Op names an S3 request well enough for faults: the bucket is the
// target of bucket-level calls.
func s3Op(r *http.Request) (name string, mutating bool, bucket string) {
	parts := strings.SplitN(strings.TrimPrefix(r.URL.Path, "/"), "/", 2)
	bucket = parts[0]
	object := len(parts) == 2 && parts[1] != ""
	switch r.Method {
	case http.MethodHead:
		if object {
			return "HeadObject", false, bucket
		}
		return "HeadBucket", false, bucket
	case http.MethodGet:
		return "Get", false, bucket
	case http.MethodPut:
		if !object && len(r.URL.Query()) == 0 {
			return "CreateBucket", true, bucket
		}
		return "Put", true, bucket
	case http.MethodDelete:
		return "Delete", true, bucket
	}
	return "Post", true, bucket
}

func (p *Proxy) serve(w http.ResponseWriter, r *http.Request, rp *httputil.ReverseProxy) {
	o := classify(r)
	p.mu.Lock()
	p.stats.Requests++
	fault := p.pick(o)
	p.mu.Unlock()
	switch fault {
	case "permanent":
		p.errorResponse(w, o, p.cfg.Permanent[o.service+":"+o.name], http.StatusForbidden)
	case "server":
		p.errorResponse(w, o, "InternalFailure", http.StatusServiceUnavailable)
	case "throttle":
		p.errorResponse(w, o, "Throttling", http.StatusBadRequest)
	case "notfound":
		p.notFound(w, o)
	case "reset":
		hangUp(w)
	case "slow":
		time.Sleep(p.cfg.SlowDelay)
		hangUp(w)
	case "lost":
		rec := httptest.NewRecorder()
		rp.ServeHTTP(rec, r)
		p.remember(o, rec.Code)
		hangUp(w)
	default:
		cw := &codeWriter{ResponseWriter: w}
		rp.ServeHTTP(cw, r)
		p.remember(o, cw.code)
	}
}

// pick decides a request's fault; the caller holds p.mu.
func (p *Proxy) pick(o op) string {
	if _, ok := p.cfg.Permanent[o.service+":"+o.name]; ok {
		p.stats.Permanent++
		return "permanent"
	}
	key := o.service + ":" + o.name
	n := p.seen[key]
	p.seen[key] = n + 1
	if p.burst[key] > 0 {
		p.burst[key]--
		p.stats.Throttled++
		return "throttle"
	}
	h := fnv.New64a()
	fmt.Fprintf(h, "%s#%d", key, n)
	rng := rand.New(rand.NewPCG(uint64(p.cfg.Seed), h.Sum64()))
	x := rng.Float64()
	switch {
	case x < p.cfg.ServerError:
		p.stats.ServerErrors++
		return "server"
	case x < p.cfg.ServerError+p.cfg.ThrottleBurst:
		p.burst[key] = p.cfg.BurstLength - 1
		p.stats.Throttled++
		return "throttle"
	case x < p.cfg.ServerError+p.cfg.ThrottleBurst+p.cfg.Reset:
		p.stats.Resets++
		return "reset"
	case x < p.cfg.ServerError+p.cfg.ThrottleBurst+p.cfg.Reset+p.cfg.Slow:
		p.stats.Slow++
		return "slow"
	}
	lost, notFound := rng.Float64(), rng.Float64()
	if o.mutating && lost < p.cfg.LostResponse {
		p.stats.Lost++
		return "lost"
	}
	if !o.mutating && o.target != "" && isDescribe(o.name) {
		if at, ok := p.created[o.target]; ok && time.Since(at) < p.cfg.NotFoundWindow && notFound < p.cfg.NotFoundAfterCreate {
			p.stats.NotFound++
			return "notfound"
		}
	}
	p.stats.Forwarded++
	return ""
}

func isDescribe(name string) bool {
	return name == "DescribeDBInstances" || name == "DescribeDBSnapshots" || name == "HeadBucket"
}

// remember notes what a successful create created.
func (p *Proxy) remember(o op, code int) {
	if code >= 300 || o.target == "" {
		return
	}
	switch o.name {
	case "CreateDBSnapshot", "CopyDBSnapshot", "RestoreDBInstanceFromDBSnapshot", "CreateBucket":
		p.mu.Lock()
		p.created[o.target] = time.Now()
		p.mu.Unlock()
	}
}

func (p *Proxy) errorResponse(w http.ResponseWriter, o op, code string, status int) {
	switch {
	case o.service == "s3":
		if code == "Throttling" {
			code, status = "SlowDown", http.StatusServiceUnavailable
		}
		if code == "InternalFailure" {
			code = "InternalError"
		}
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(status)
		fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>%s</Code><Message>injected fault</Message><RequestId>fault</RequestId></Error>`, code)
	case o.service == "ec2":
		// EC2's query protocol has its own error document.
		if code == "Throttling" {
			code = "RequestLimitExceeded"
		}
		w.Header().Set("Content-Type", "text/xml")
		w.WriteHeader(status)
		fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><Response><Errors><Error><Code>%s</Code><Message>injected fault</Message></Error></Errors><RequestID>fault</RequestID></Response>`, code)
	case o.service == "kms":
		if code == "Throttling" {
			code = "ThrottlingException"
		}
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		w.WriteHeader(status)
		fmt.Fprintf(w, `{"__type":"%s","message":"injected fault"}`, code)
	default:
		w.Header().Set("Content-Type", "text/xml")
		w.WriteHeader(status)
		fmt.Fprintf(w, `<ErrorResponse><Error><Type>Sender</Type><Code>%s</Code><Message>injected fault</Message></Error><RequestId>fault</RequestId></ErrorResponse>`, code)
	}
}

func (p *Proxy) notFound(w http.ResponseWriter, o op) {
	switch o.name {
	case "HeadBucket":
		w.WriteHeader(http.StatusNotFound)
	case "DescribeDBSnapshots":
		p.errorResponse(w, o, "DBSnapshotNotFound", http.StatusNotFound)
	default:
		p.errorResponse(w, o, "DBInstanceNotFound", http.StatusNotFound)
	}
}

// hangUp closes the connection without a response.
func hangUp(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic("faultproxy: the server does not support hijacking")
	}
	conn, _, err := hj.Hijack()
	if err == nil {
		conn.Close()
	}
}

type codeWriter struct {
	http.ResponseWriter
	code int
}

func (c *codeWriter) WriteHeader(code int) {
	c.code = code
	c.ResponseWriter.WriteHeader(code)
}

func (c *codeWriter) Write(b []byte) (int, error) {
	if c.code == 0 {
		c.code = http.StatusOK
	}
	return c.ResponseWriter.Write(b)
}
