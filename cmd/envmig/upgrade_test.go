package main

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/rds"

	"github.com/envmig/envmig/internal/clitest"
	"github.com/envmig/envmig/internal/testaws"
)

// upgradeSpec is an environment of one PostgreSQL database upgraded to
// version; group is its parameter_group line ("" for none).
func upgradeSpec(version, group string) string {
	return fmt.Sprintf(`environment "production" {
  database "main" {
    identifier     = "orders-db"
    engine_version = %q
    %s
  }
  migration {
    strategy = "rename-swap"
    verify {
      command "rows" {
        run = "true"
      }
    }
  }
}
`, version, group)
}

// seedPostgres creates orders-db, PostgreSQL version, on parameter group
// group ("" for the default).
func seedPostgres(t *testing.T, version, group string) *rds.Client {
	t.Helper()
	testaws.Reset(t)
	c := testaws.Clients(t).RDS
	ctx := context.Background()
	if group != "" {
		if _, err := c.CreateDBParameterGroup(ctx, &rds.CreateDBParameterGroupInput{
			DBParameterGroupName: aws.String(group), DBParameterGroupFamily: aws.String("postgres15"), Description: aws.String("orders"),
		}); err != nil {
			t.Fatal(err)
		}
	}
	in := &rds.CreateDBInstanceInput{
		DBInstanceIdentifier: aws.String("orders-db"), Engine: aws.String("postgres"), EngineVersion: aws.String(version),
		DBInstanceClass: aws.String("db.t3.medium"), AllocatedStorage: aws.Int32(20),
		MasterUsername: aws.String("orders"), MasterUserPassword: aws.String(clitest.CanaryPassword),
	}
	if group != "" {
		in.DBParameterGroupName = aws.String(group)
	}
	if _, err := c.CreateDBInstance(ctx, in); err != nil {
		t.Fatal(err)
	}
	return c
}

func describeOrders(t *testing.T, c *rds.Client) (version, group string) {
	t.Helper()
	out, err := c.DescribeDBInstances(context.Background(), &rds.DescribeDBInstancesInput{DBInstanceIdentifier: aws.String("orders-db")})
	if err != nil {
		t.Fatal(err)
	}
	d := out.DBInstances[0]
	if len(d.DBParameterGroups) > 0 {
		group = aws.ToString(d.DBParameterGroups[0].DBParameterGroupName)
	}
	return aws.ToString(d.EngineVersion), group
}

func TestMajorEngineUpgradeMovesToTheNewDefaultParameterGroup(t *testing.T) {
	c := seedPostgres(t, "15.5", "")
	if _, g := describeOrders(t, c); g != "default.postgres15" {
		t.Fatalf("the seeded database is on %q, want default.postgres15", g)
	}
	cli := newCLI(t, upgradeSpec("16.3", ""))
	p := cli.Must(2, "plan", "-detailed-exitcode", "-out", "plan.json")
	if !strings.Contains(p.Stdout, "default.postgres16") {
		t.Fatalf("the plan does not show the new parameter group:\n%s", p)
	}
	cli.Must(0, "apply", "-auto-approve", "plan.json")
	if v, g := describeOrders(t, c); v != "16.3" || g != "default.postgres16" {
		t.Fatalf("after the upgrade orders-db is %s on %s, want 16.3 on default.postgres16", v, g)
	}
	cli.Must(0, "plan", "-detailed-exitcode")
	cli.Calls()
}

func TestMinorEngineUpgradeKeepsTheParameterGroup(t *testing.T) {
	c := seedPostgres(t, "15.5", "")
	cli := newCLI(t, upgradeSpec("15.7", ""))
	cli.Must(2, "plan", "-detailed-exitcode", "-out", "plan.json")
	cli.Must(0, "apply", "-auto-approve", "plan.json")
	if v, g := describeOrders(t, c); v != "15.7" || g != "default.postgres15" {
		t.Fatalf("after the upgrade orders-db is %s on %s, want 15.7 on default.postgres15", v, g)
	}
	cli.Must(0, "plan", "-detailed-exitcode")
}

func TestMajorUpgradeOfACustomParameterGroupNamesTheGroupToCreate(t *testing.T) {
	c := seedPostgres(t, "15.5", "orders-pg15")
	cli := newCLI(t, upgradeSpec("16.3", ""))
	r := cli.Must(1, "plan")
	out := r.Stdout + r.Stderr
	for _, want := range []string{"EM116", "orders-pg15", "postgres16"} {
		if !strings.Contains(out, want) {
			t.Fatalf("the refusal does not say %q:\n%s", want, r)
		}
	}
	if len(clitest.Mutating(cli.Calls())) != 0 {
		t.Fatal("a refused plan changed AWS")
	}

	// With a group of the new family named, the upgrade runs and the
	// instance ends on it.
	if _, err := c.CreateDBParameterGroup(context.Background(), &rds.CreateDBParameterGroupInput{
		DBParameterGroupName: aws.String("orders-pg16"), DBParameterGroupFamily: aws.String("postgres16"), Description: aws.String("orders"),
	}); err != nil {
		t.Fatal(err)
	}
	cli = newCLI(t, upgradeSpec("16.3", `parameter_group = "orders-pg16"`))
	cli.Must(2, "plan", "-detailed-exitcode", "-out", "plan.json")
	cli.Must(0, "apply", "-auto-approve", "plan.json")
	if v, g := describeOrders(t, c); v != "16.3" || g != "orders-pg16" {
		t.Fatalf("after the upgrade orders-db is %s on %s, want 16.3 on orders-pg16", v, g)
	}
}
