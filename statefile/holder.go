package statefile

import (
	"crypto/rand"
	"fmt"
	"net/url"
	"os"
	"os/user"
	"strings"
	"time"
)

// LockInfo says who holds a journal's lock. The local backend writes it
// beside the lock file as <name>.lock.json; the S3 backend is the content
// of the lock object.
type LockInfo struct {
	// ID is random, set by Lock; force-unlock names it.
	ID        string `json:"id"`
	Operation string `json:"operation"` // apply, resume, rollback, clone, cleanup, state-migrate
	PID       int    `json:"pid"`
	Host      string `json:"host"`
	// Run is the lineage of the run, when known.
	Run string `json:"run,omitempty"`
	// Who is the user the process runs as.
	Who   string    `json:"who,omitempty"`
	Since time.Time `json:"since"`
	// CI is the URL of the CI job the holder runs in, when known
	// (CIJobURL).
	CI string `json:"ci,omitempty"`
	// Expires is when the holder's lease ends unless renewed, by its own
	// clock (S3 locks only; informative: the backend judges expiry by the
	// storage's clock).
	Expires time.Time `json:"expires,omitzero"`
}

// CurrentHolder describes this process as the holder of a lock for
// operation on run (a lineage, or ""): pid, host, user, the time, and the
// CI job URL when it runs in a CI job.
func CurrentHolder(operation, run string) LockInfo {
	i := LockInfo{Operation: operation, Run: run, CI: CIJobURL(os.Getenv)}
	if u, err := user.Current(); err == nil {
		i.Who = u.Username
	}
	return i.Filled()
}

// Filled returns i with a new random ID and, when empty, this process's PID,
// host and the time: what a backend's Lock records.
func (i LockInfo) Filled() LockInfo {
	i.ID = newID()
	if i.PID == 0 {
		i.PID = os.Getpid()
	}
	if i.Host == "" {
		i.Host, _ = os.Hostname()
	}
	if i.Since.IsZero() {
		i.Since = time.Now().UTC()
	}
	return i
}

// CIJobURL returns the web address of the CI job this process runs in, from
// the environment getenv reads, or "" outside CI (or when the CI does not
// say):
//
//   - GitHub Actions: $GITHUB_SERVER_URL/$GITHUB_REPOSITORY/actions/runs/$GITHUB_RUN_ID
//     (with /attempts/$GITHUB_RUN_ATTEMPT when set);
//   - GitLab CI: $CI_JOB_URL;
//   - TeamCity: $TEAMCITY_BUILD_URL, or $BUILD_URL (TeamCity exposes
//     neither by default: set one to %teamcity.serverUrl%/viewLog.html?buildId=%teamcity.build.id%);
//   - Jenkins: $BUILD_URL; Buildkite: $BUILDKITE_BUILD_URL; CircleCI: $CIRCLE_BUILD_URL.
//
// Only http and https URLs are returned, without any user information.
func CIJobURL(getenv func(string) string) string {
	if getenv("GITHUB_ACTIONS") == "true" {
		server, repo, id := getenv("GITHUB_SERVER_URL"), getenv("GITHUB_REPOSITORY"), getenv("GITHUB_RUN_ID")
		if server != "" && repo != "" && id != "" {
			u := strings.TrimRight(server, "/") + "/" + repo + "/actions/runs/" + id
			if a := getenv("GITHUB_RUN_ATTEMPT"); a != "" {
				u += "/attempts/" + a
			}
			return cleanURL(u)
		}
	}
	for _, v := range []string{"CI_JOB_URL", "TEAMCITY_BUILD_URL", "BUILD_URL", "BUILDKITE_BUILD_URL", "CIRCLE_BUILD_URL"} {
		if u := cleanURL(getenv(v)); u != "" {
			return u
		}
	}
	return ""
}

// cleanURL returns s if it is an http(s) URL, with any user information
// removed, or "".
func cleanURL(s string) string {
	u, err := url.Parse(strings.TrimSpace(s))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return ""
	}
	u.User = nil
	return u.String()
}

// newID returns a random version 4 UUID.
func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand panics instead)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
