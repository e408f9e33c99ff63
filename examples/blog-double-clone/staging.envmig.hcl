# The double clone from the blog post that started envmig, for an
# environment that CloudFormation owns: every resource is named by its
# logical ID in the stack, so the spec survives the stack renaming its
# physical resources.
#
# clone-swap clones the whole environment into temporaries and verifies
# them while the originals stay untouched; only after the point of no
# return are the originals deleted (final snapshots kept) and the verified
# temporaries cloned back into the original names.

variable "health_host" {
  type        = string
  default     = "staging.shop.example.com"
  description = "Host name the storefront answers on; the check probes it once the clone is in place."
}

aws {
  region              = "eu-west-1"
  allowed_account_ids = ["210987654321"]
}

locals {
  team = "checkout"
}

environment "staging" {
  stack = "shop-staging"

  # AWS::RDS::DBInstance "Database" in the stack's template. Moving it to
  # encrypted storage and a Graviton class needs a new instance, which is
  # what the double clone provides.
  database "orders" {
    logical_id        = "Database"
    engine            = "postgres"
    engine_version    = "16.4"
    instance_class    = "db.m6g.large"
    storage_encrypted = true
    multi_az          = true
    tags = {
      environment = "staging"
      team        = local.team
    }
  }

  # AWS::S3::Bucket "AssetsBucket": product images and invoices.
  bucket "assets" {
    logical_id = "AssetsBucket"
    versioning = true
  }

  # AWS::AutoScaling::AutoScalingGroup "WebServerGroup": its instances go
  # to standby so that no request writes while the data is copied.
  service "web" {
    logical_id = "WebServerGroup"
  }

  migration {
    strategy = "clone-swap"

    verify {
      objects = "etag"

      http "storefront" {
        url     = "https://${var.health_host}/healthz"
        status  = 200
        timeout = "15s"
      }
    }
  }
}
