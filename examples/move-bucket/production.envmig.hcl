# Move the user uploads of a production environment out of a bucket with a
# legacy name into one that follows the account's naming scheme.
#
# envmig creates "acme-prod-uploads", pre-copies every object from
# "acme-uploads-legacy" while the site is live, puts the API servers in
# standby, copies only what changed since, verifies sizes and checksums
# of every object, and brings the servers back. The legacy bucket is kept
# as the way back until `envmig cleanup`.

aws {
  region = "us-east-1"
}

locals {
  prefix = "acme-prod"
}

environment "production" {
  bucket "uploads" {
    name       = "${local.prefix}-uploads"
    moved_from = "acme-uploads-legacy"
    versioning = true
    tags = {
      team        = "media"
      cost-center = "cc-4411"
    }
  }

  # The API writes uploads; while its instances are in standby nothing can
  # add an object that the copy would miss.
  service "api" {
    autoscaling_group = "${local.prefix}-api"
  }

  migration {
    strategy = "rename-swap"

    verify {
      objects = "checksum"

      http "api-health" {
        url     = "https://api.acme.example/healthz"
        timeout = "5s"
      }
    }
  }
}
