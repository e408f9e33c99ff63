variable "app" {
  type    = string
  default = "shop"
}

aws {
  region              = "us-east-1"
  allowed_account_ids = ["123456789012"]
}

environment "production" {
  # Optional: with stack = "NAME", resources owned by that CloudFormation stack may be
  # named by logical ID (logical_id = "Database") instead of their physical names.

  database "main" {
    identifier        = "${var.app}-prod-db"
    engine            = "postgres"
    engine_version    = "16.4"
    instance_class    = "db.t3.large"
    allocated_storage = 50
    storage_encrypted = true
    tags              = { owner = "platform" }
  }

  bucket "uploads" {
    name       = "${var.app}-prod-uploads"
    versioning = true
  }

  service "web" {
    autoscaling_group = "${var.app}-prod-web"
  }

  migration {
    strategy         = "rename-swap"
    temporary_suffix = "-envmig"
    verify {
      objects = "checksum"            # count | etag | checksum
      http "health" {                 # optional: probes run against the clone
        url    = "https://clone.example.internal/health"
        status = 200
      }
    }
  }
}
