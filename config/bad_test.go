package config

import (
	"testing"

	"github.com/hashicorp/hcl/v2"
)

// badCase is a spec with exactly one error: its summary and the line its
// subject starts on.
type badCase struct {
	src     string
	summary string
	line    int
	opts    LoadOptions
}

var badCases = map[string]badCase{
	"misspelt attribute": {src: `environment "prod" {
  database "main" {
    identifer = "shop-db"
  }
}
`, summary: "Unsupported argument", line: 3},
	"misspelt block type": {src: `environment "prod" {
  database "main" {
    identifier = "shop-db"
  }
  servce "web" {
    autoscaling_group = "shop-web"
  }
}
`, summary: "Unsupported block type", line: 5},
	"unknown top-level block": {src: `resource "aws_db_instance" "x" {}
environment "prod" {
  bucket "b" {
    name = "shop-b"
  }
}
`, summary: "Unsupported block type", line: 1},
	"attribute written as a block": {src: `environment "prod" {
  database "main" {
    identifier = "shop-db"
    tags {
      owner = "me"
    }
  }
}
`, summary: "Unsupported block type", line: 4},
	"block written as an attribute": {src: `environment "prod" {
  bucket "b" {
    name = "shop-b"
  }
  migration {
    verify = {}
  }
}
`, summary: "Unsupported argument", line: 6},
	"missing environment label": {src: `environment {
  bucket "b" {
    name = "shop-b"
  }
}
`, summary: "Missing name for environment", line: 1},
	"string where a number is wanted": {src: `environment "prod" {
  database "main" {
    identifier        = "shop-db"
    allocated_storage = "lots"
  }
}
`, summary: "Incorrect attribute value type", line: 4},
	"string where a bool is wanted": {src: `environment "prod" {
  database "main" {
    identifier        = "shop-db"
    storage_encrypted = "yes"
  }
}
`, summary: "Incorrect attribute value type", line: 4},
	"tags as a list": {src: `environment "prod" {
  bucket "b" {
    name = "shop-b"
    tags = ["a", "b"]
  }
}
`, summary: "Incorrect attribute value type", line: 4},
	"duplicate environment": {src: `environment "prod" {
  bucket "b" {
    name = "shop-b"
  }
}
environment "prod" {
  bucket "c" {
    name = "shop-c"
  }
}
`, summary: "Duplicate environment", line: 6},
	"duplicate database block": {src: `environment "prod" {
  database "main" {
    identifier = "shop-db"
  }
  database "main" {
    identifier = "shop-db2"
  }
}
`, summary: "Duplicate database block", line: 5},
	"duplicate aws block": {src: `aws {
  region = "us-east-1"
}
aws {
  region = "us-east-2"
}
environment "prod" {
  bucket "b" {
    name = "shop-b"
  }
}
`, summary: "Duplicate aws block", line: 4},
	"duplicate migration block": {src: `environment "prod" {
  bucket "b" {
    name = "shop-b"
  }
  migration {}
  migration {}
}
`, summary: "Duplicate migration block", line: 6},
	"duplicate verify block": {src: `environment "prod" {
  bucket "b" {
    name = "shop-b"
  }
  migration {
    verify {}
    verify {}
  }
}
`, summary: "Duplicate verify block", line: 7},
	"duplicate variable": {src: `variable "app" {
  default = "shop"
}
variable "app" {
  default = "shop"
}
environment "prod" {
  bucket "b" {
    name = "${var.app}-b"
  }
}
`, summary: "Duplicate variable declaration", line: 4},
	"undeclared variable": {src: `variable "app" {
  default = "shop"
}
environment "prod" {
  bucket "b" {
    name = "${var.ap}-b"
  }
}
`, summary: "Reference to undeclared input variable", line: 6},
	"undeclared local": {src: `locals {
  app = "shop"
}
environment "prod" {
  bucket "b" {
    name = "${local.apps}-b"
  }
}
`, summary: "Reference to undeclared local value", line: 6},
	"reference to something else": {src: `environment "prod" {
  bucket "b" {
    name = aws.bucket
  }
}
`, summary: "Invalid reference", line: 3},
	"unknown function": {src: `environment "prod" {
  bucket "b" {
    name = uppr("shop-b")
  }
}
`, summary: "Call to unknown function", line: 3},
	"locals in a cycle": {src: `locals {
  a = "${local.b}-x"
  b = "${local.a}-y"
}
environment "prod" {
  bucket "b" {
    name = "shop-b"
  }
}
`, summary: "Circular reference between local values", line: 2},
	"variable without a value": {src: `variable "app" {
  type = string
}
environment "prod" {
  bucket "b" {
    name = "${var.app}-b"
  }
}
`, summary: "No value for required variable", line: 1},
	"default of the wrong type": {src: `variable "size" {
  type    = number
  default = "big"
}
environment "prod" {
  database "main" {
    identifier        = "shop-db"
    allocated_storage = var.size
  }
}
`, summary: "Invalid value for variable", line: 3},
	"sensitive value in a command": {src: `variable "password" {
  type      = string
  sensitive = true
  default   = "correct-horse"
}
locals {
  dsn = "postgres://app:${var.password}@db/app"
}
environment "prod" {
  database "main" {
    identifier = "shop-db"
  }
  migration {
    verify {
      command "db" {
        run = "psql '${local.dsn}' -c 'select 1'"
      }
    }
  }
}
`, summary: "Sensitive value cannot be used in run", line: 16},
	"empty identifier": {src: `environment "prod" {
  database "main" {
    identifier = ""
  }
}
`, summary: "Empty identifier", line: 3},
	"null identifier": {src: `variable "id" {
  default = null
}
environment "prod" {
  database "main" {
    identifier = var.id
  }
}
`, summary: "Missing identifier or logical_id", line: 5},
	"empty command": {src: `environment "prod" {
  bucket "b" {
    name = "shop-b"
  }
  migration {
    verify {
      command "c" {
        run = ""
      }
    }
  }
}
`, summary: "Empty run", line: 8},
	"identifier and logical_id": {src: `environment "prod" {
  stack = "shop"
  database "main" {
    identifier = "shop-db"
    logical_id = "Database"
  }
}
`, summary: "Both identifier and logical_id are set", line: 5},
	"neither identifier nor logical_id": {src: `environment "prod" {
  database "main" {
    engine = "postgres"
  }
}
`, summary: "Missing identifier or logical_id", line: 2},
	"logical_id without stack": {src: `environment "prod" {
  bucket "b" {
    logical_id = "Uploads"
  }
}
`, summary: "logical_id without stack", line: 3},
	"invalid logical ID": {src: `environment "prod" {
  stack = "shop"
  bucket "b" {
    logical_id = "Uploads-Bucket"
  }
}
`, summary: "Invalid logical ID", line: 4},
	"invalid stack name": {src: `environment "prod" {
  stack = "1shop"
  bucket "b" {
    logical_id = "Uploads"
  }
}
`, summary: "Invalid stack name", line: 2},
	"aurora engine": {src: `environment "prod" {
  database "main" {
    identifier = "shop-db"
    engine     = "aurora-postgresql"
  }
}
`, summary: "Aurora is not supported", line: 4},
	"unknown engine": {src: `environment "prod" {
  database "main" {
    identifier = "shop-db"
    engine     = "postgress"
  }
}
`, summary: "Unknown database engine", line: 4},
	"zero allocated storage": {src: `environment "prod" {
  database "main" {
    identifier        = "shop-db"
    allocated_storage = 0
  }
}
`, summary: "Invalid allocated_storage", line: 4},
	"fractional allocated storage": {src: `environment "prod" {
  database "main" {
    identifier        = "shop-db"
    allocated_storage = 20.5
  }
}
`, summary: "Invalid allocated_storage", line: 4},
	"instance class without db.": {src: `environment "prod" {
  database "main" {
    identifier     = "shop-db"
    instance_class = "t3.large"
  }
}
`, summary: "Invalid instance class", line: 4},
	"kms key without encryption": {src: `environment "prod" {
  database "main" {
    identifier        = "shop-db"
    storage_encrypted = false
    kms_key_id        = "alias/rds"
  }
}
`, summary: "KMS key without encryption", line: 5},
	"reserved tag key": {src: `environment "prod" {
  database "main" {
    identifier = "shop-db"
    tags = {
      "aws:owner" = "me"
    }
  }
}
`, summary: "Reserved tag key", line: 5},
	"duplicate database identifier": {src: `environment "prod" {
  database "a" {
    identifier = "shop-db"
  }
  database "b" {
    identifier = "SHOP-DB"
  }
}
`, summary: "Duplicate database identifier", line: 6},
	"duplicate bucket name": {src: `environment "prod" {
  bucket "a" {
    name = "shop-b"
  }
  bucket "b" {
    name       = "shop-c"
    moved_from = "shop-b"
  }
}
`, summary: "Duplicate bucket name", line: 7},
	"duplicate auto scaling group": {src: `environment "prod" {
  bucket "b" {
    name = "shop-b"
  }
  service "a" {
    autoscaling_group = "shop-web"
  }
  service "b" {
    autoscaling_group = "shop-web"
  }
}
`, summary: "Duplicate Auto Scaling group", line: 9},
	"http check with ftp url": {src: `environment "prod" {
  bucket "b" {
    name = "shop-b"
  }
  migration {
    verify {
      http "h" {
        url = "ftp://example.com/"
      }
    }
  }
}
`, summary: "Unsupported URL scheme", line: 8},
	"http check with credentials in the url": {src: `environment "prod" {
  bucket "b" {
    name = "shop-b"
  }
  migration {
    verify {
      http "h" {
        url = "https://admin:pw@example.com/"
      }
    }
  }
}
`, summary: "URL contains credentials", line: 8},
	"http check without url": {src: `environment "prod" {
  bucket "b" {
    name = "shop-b"
  }
  migration {
    verify {
      http "h" {
        status = 204
      }
    }
  }
}
`, summary: "Missing url", line: 7},
	"http status out of range": {src: `environment "prod" {
  bucket "b" {
    name = "shop-b"
  }
  migration {
    verify {
      http "h" {
        url    = "https://example.com/"
        status = 99
      }
    }
  }
}
`, summary: "Invalid status", line: 9},
	"http timeout not a duration": {src: `environment "prod" {
  bucket "b" {
    name = "shop-b"
  }
  migration {
    verify {
      http "h" {
        url     = "https://example.com/"
        timeout = "soon"
      }
    }
  }
}
`, summary: "Invalid timeout", line: 9},
	"unknown object verification": {src: `environment "prod" {
  bucket "b" {
    name = "shop-b"
  }
  migration {
    verify {
      objects = "md5"
    }
  }
}
`, summary: "Unknown object verification", line: 7},
	"account ID of the wrong length": {src: `aws {
  allowed_account_ids = ["123456789012", "12345"]
}
environment "prod" {
  bucket "b" {
    name = "shop-b"
  }
}
`, summary: "Invalid AWS account ID", line: 2},
	"region without hyphens": {src: `aws {
  region = "useast1"
}
environment "prod" {
  bucket "b" {
    name = "shop-b"
  }
}
`, summary: "Invalid AWS region", line: 2},
	"environment name with a space": {src: `environment "prod env" {
  bucket "b" {
    name = "shop-b"
  }
}
`, summary: "Invalid environment name", line: 1},
	"no environment": {src: `aws {
  region = "us-east-1"
}
`, summary: "No environment block", line: 1},
	"-var for an undeclared variable": {src: `environment "prod" {
  bucket "b" {
    name = "shop-b"
  }
}
`, summary: "Value for undeclared variable", line: 0, opts: LoadOptions{Vars: []string{"app=shop"}}},
	"-var without equals sign": {src: `variable "app" {
  default = "shop"
}
environment "prod" {
  bucket "b" {
    name = "${var.app}-b"
  }
}
`, summary: "Invalid -var option", line: 0, opts: LoadOptions{Vars: []string{"app"}}},
}

func TestBadConfigs(t *testing.T) {
	cases := map[string]badCase{}
	for _, m := range []map[string]badCase{badCases, badNameCases, blockBadCases} {
		for name, tc := range m {
			if _, dup := cases[name]; dup {
				t.Fatalf("case %q twice", name)
			}
			cases[name] = tc
		}
	}
	if len(cases) < 30 {
		t.Fatalf("only %d bad-config cases; want at least 30", len(cases))
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			dir := writeSpec(t, map[string]string{"name.envmig.hcl": tc.src})
			_, diags := Load(dir, tc.opts)
			errs := errorsOf(diags)
			if len(errs) != 1 {
				t.Fatalf("got %d errors, want exactly 1:\n%s", len(errs), render(t, diags))
			}
			d := errs[0]
			if d.Summary != tc.summary {
				t.Errorf("summary %q, want %q", d.Summary, tc.summary)
			}
			if tc.line == 0 {
				if d.Subject != nil {
					t.Errorf("subject %s, want none (the value comes from the command line)", d.Subject)
				}
			} else if d.Subject == nil || d.Subject.Start.Line != tc.line {
				t.Errorf("subject %v, want line %d", d.Subject, tc.line)
			}
			if d.Detail == "" {
				t.Error("empty detail")
			}
		})
	}
}

func errorsOf(diags hcl.Diagnostics) hcl.Diagnostics {
	var out hcl.Diagnostics
	for _, d := range diags {
		if d.Severity == hcl.DiagError {
			out = append(out, d)
		}
	}
	return out
}
