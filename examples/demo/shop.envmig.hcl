# The demo's migration of "shop" (make demo): the production database is
# encrypted and resized through a verified clone, the assets move out of a
# legacy bucket name, and the web tier is in standby while the data moves.

variable "app" {
  type    = string
  default = "shop"
}

aws {
  region              = "us-east-1"
  allowed_account_ids = ["123456789012"]
}

environment "production" {
  database "main" {
    identifier        = "${var.app}-prod-db"
    engine            = "postgres"
    engine_version    = "16.4"
    instance_class    = "db.t3.large"
    allocated_storage = 50
    storage_encrypted = true
    tags = {
      owner         = "platform"
      "cost-center" = "shop-42"
    }
  }

  bucket "uploads" {
    name       = "${var.app}-prod-uploads"
    versioning = true
  }

  bucket "assets" {
    name       = "${var.app}-prod-assets"
    moved_from = "${var.app}-prod-assets-legacy"
  }

  service "web" {
    autoscaling_group = "${var.app}-prod-web"
  }

  migration {
    strategy = "rename-swap"
    verify {
      objects = "checksum"
      command "clone-is-up" {
        run = "echo \"checking the clone $ENVMIG_DATABASE_MAIN\""
      }
    }
  }
}
