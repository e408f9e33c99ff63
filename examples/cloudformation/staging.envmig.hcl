# The shop's staging environment is a CloudFormation stack, created by the
# pipeline from env-v1.yaml. This spec migrates it to env-v2.yaml (a larger
# instance class and an encrypted database) the way the origin's scripts
# did: build the new version beside the old one, fill it, test it, retire
# the old one, build it again under its name. DESIGN.md §2 is the contract.

aws {
  region = "us-east-1"
}

environment "staging" {
  stack = "shop-staging"

  template {
    file                  = "env-v2.yaml"
    parameters            = { DBInstanceClass = "db.t3.small" }
    environment_parameter = "EnvironmentName"      # receives the stack's name (temporary or original)
    snapshot_parameter    = "DBSnapshotIdentifier" # receives the snapshot the database is restored from
  }

  database "main" { logical_id = "Database" }
  bucket "uploads" { logical_id = "Uploads" }
  service "web" { logical_id = "WebGroup" }

  migration {
    strategy         = "stack-swap"
    temporary_suffix = "-envmig"
    verify {
      objects = "checksum"
      # Runs against the temporary stack before the point of no return: its
      # outputs are ENVMIG_STACK_OUTPUT_<Name>, its database and buckets
      # ENVMIG_DATABASE_MAIN and ENVMIG_BUCKET_UPLOADS. Compare row counts
      # or key tables with the original here.
      command "outputs" {
        run = "test \"$ENVMIG_STACK_OUTPUT_UploadsBucket\" = \"$ENVMIG_BUCKET_UPLOADS\""
      }
    }
  }
}
