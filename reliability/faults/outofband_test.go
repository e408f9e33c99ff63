package faults

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/google/go-cmp/cmp"

	"github.com/envmig/envmig/executor"
	"github.com/envmig/envmig/internal/awsclient"
	"github.com/envmig/envmig/internal/clitest"
	"github.com/envmig/envmig/internal/demo"
)

// Suite O. Something changes the originals during the standby window: a
// user writes an object, someone modifies the database, a scheduled action
// puts an instance back in service. The run is stopped in the window (the
// crash hook kills it just before verify.frozen), the change is made, and
// the run resumed: the change must be detected before the point of no
// return, the run must stop and roll back, and the world must be as before
// (plus the change itself).

type outOfBand struct {
	change func(t *testing.T, cl *awsclient.Clients)
	// expect adjusts the world taken before the run for the change.
	expect func(w *clitest.World, after clitest.World)
	says   string
	// stops is true when the change stops the run for the operator
	// instead of rolling it back.
	stops bool
}

func outOfBandCases() map[string]outOfBand {
	ctx := context.Background()
	return map[string]outOfBand{
		"object written": {
			change: func(t *testing.T, cl *awsclient.Clients) {
				if _, err := cl.S3.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(demo.LegacyAssets), Key: aws.String("written-during-standby.txt"), Body: strings.NewReader("late")}); err != nil {
					t.Fatal(err)
				}
			},
			expect: func(w *clitest.World, after clitest.World) {
				w.Buckets[demo.LegacyAssets] = after.Buckets[demo.LegacyAssets]
			},
			says:  "written-during-standby.txt",
			stops: true,
		},
		"database modified": {
			change: func(t *testing.T, cl *awsclient.Clients) {
				if _, err := cl.RDS.ModifyDBInstance(ctx, &rds.ModifyDBInstanceInput{DBInstanceIdentifier: aws.String(demo.Database),
					DBInstanceClass: aws.String("db.t3.small"), ApplyImmediately: aws.Bool(true)}); err != nil {
					t.Fatal(err)
				}
			},
			expect: func(w *clitest.World, after clitest.World) {
				w.Databases[demo.Database] = after.Databases[demo.Database]
			},
			says: "instance_class was db.t3.medium, now db.t3.small",
		},
		"instance back in service": {
			change: func(t *testing.T, cl *awsclient.Clients) {
				g, err := cl.AutoScaling.DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: []string{demo.Group}})
				if err != nil {
					t.Fatal(err)
				}
				id := aws.ToString(g.AutoScalingGroups[0].Instances[0].InstanceId)
				if _, err := cl.AutoScaling.ExitStandby(ctx, &autoscaling.ExitStandbyInput{AutoScalingGroupName: aws.String(demo.Group), InstanceIds: []string{id}}); err != nil {
					t.Fatal(err)
				}
			},
			expect: func(*clitest.World, clitest.World) {},
			says:   "InService",
		},
	}
}

func TestOutOfBandSuite(t *testing.T) {
	cases := outOfBandCases()
	detected := 0
	for name, tc := range cases {
		if t.Run(name, func(t *testing.T) {
			cl := clitest.SeedShop(t)
			before := clitest.Observe(t, cl)
			c := clitest.New(t, clitest.Bins.Envmig, clitest.ShopSpec("rename-swap"))
			c.Must(2, "plan", "-detailed-exitcode", "-out", "plan.json")
			c.Bin = clitest.Bins.Crash
			c.Env = []string{executor.CrashEnv + "=apply:verify.frozen:before-intent"}
			if r := c.Run("apply", "-auto-approve", "plan.json"); !r.Killed {
				t.Fatalf("the run was not stopped in the standby window:\n%s", r)
			}
			c.Bin, c.Env = clitest.Bins.Envmig, nil
			tc.change(t, cl)
			r := c.Must(1, "resume", "-auto-approve")
			if !strings.Contains(r.Stderr, "changed") || !strings.Contains(r.Stderr, tc.says) {
				t.Fatalf("the change was not reported:\n%s", r)
			}
			if tc.stops {
				if !strings.Contains(r.Stderr, "nothing was destroyed") {
					t.Fatalf("the stop does not say nothing was destroyed:\n%s", r)
				}
				c.Must(0, "rollback", "-auto-approve")
			} else if !strings.Contains(r.Stderr, "every completed step was undone") {
				t.Fatalf("the run was not rolled back:\n%s", r)
			}
			after := clitest.Observe(t, cl)
			tc.expect(&before, after)
			if diff := cmp.Diff(before, after); diff != "" {
				t.Fatalf("the rollback did not restore the world (-want +got):\n%s", diff)
			}
			st := c.Must(0, "status")
			if !strings.Contains(st.Stdout, "rolled-back") {
				t.Fatalf("status:\n%s", st)
			}
			c.Calls()
		}) {
			detected++
		}
	}
	clitest.Report(t, "O", map[string]any{"runs": len(cases), "detected before the point of no return, nothing destroyed, world restored by rollback": detected})
}
