package config

import "strings"

var long56 = "a" + strings.Repeat("b", 55) // a valid identifier of 56 characters

// badNameCases are the bad-config cases about the names AWS accepts and
// the names envmig derives from them.
var badNameCases = map[string]badCase{
	"identifier too long": {src: `environment "prod" {
  database "main" {
    identifier = "` + strings.Repeat("a", 64) + `"
  }
}
`, summary: "Invalid DB instance identifier", line: 3},
	"identifier starting with a digit": {src: `environment "prod" {
  database "main" {
    identifier = "1shop"
  }
}
`, summary: "Invalid DB instance identifier", line: 3},
	"identifier with two hyphens": {src: `environment "prod" {
  database "main" {
    identifier = "shop--db"
  }
}
`, summary: "Invalid DB instance identifier", line: 3},
	"identifier ending with a hyphen": {src: `environment "prod" {
  database "main" {
    identifier = "shop-db-"
  }
}
`, summary: "Invalid DB instance identifier", line: 3},
	"identifier with an underscore": {src: `environment "prod" {
  database "main" {
    identifier = "shop_db"
  }
}
`, summary: "Invalid DB instance identifier", line: 3},
	"bucket name with uppercase": {src: `environment "prod" {
  bucket "b" {
    name = "Shop-Uploads"
  }
}
`, summary: "Invalid bucket name", line: 3},
	"bucket name like an IP address": {src: `environment "prod" {
  bucket "b" {
    name = "192.168.5.4"
  }
}
`, summary: "Invalid bucket name", line: 3},
	"bucket name too short": {src: `environment "prod" {
  bucket "b" {
    name = "ab"
  }
}
`, summary: "Invalid bucket name", line: 3},
	"bucket name with xn-- prefix": {src: `environment "prod" {
  bucket "b" {
    name = "xn--shop"
  }
}
`, summary: "Invalid bucket name", line: 3},
	"bucket name with -s3alias suffix": {src: `environment "prod" {
  bucket "b" {
    name = "shop-s3alias"
  }
}
`, summary: "Invalid bucket name", line: 3},
	"bucket name with two dots": {src: `environment "prod" {
  bucket "b" {
    name = "shop..uploads"
  }
}
`, summary: "Invalid bucket name", line: 3},
	"moved_from is the bucket itself": {src: `environment "prod" {
  bucket "b" {
    name       = "shop-uploads"
    moved_from = "shop-uploads"
  }
}
`, summary: "moved_from names the bucket itself", line: 4},
	"moved_from is not a bucket name": {src: `environment "prod" {
  bucket "b" {
    name       = "shop-uploads"
    moved_from = "Shop_Uploads"
  }
}
`, summary: "Invalid moved_from bucket name", line: 4},
	"unknown strategy": {src: `environment "prod" {
  bucket "b" {
    name = "shop-b"
  }
  migration {
    strategy = "rename_swap"
  }
}
`, summary: "Unknown migration strategy", line: 6},
	"strategy not implemented": {src: `environment "prod" {
  bucket "b" {
    name = "shop-b"
  }
  migration {
    strategy = "blue-green"
  }
}
`, summary: "Strategy not supported yet", line: 6},
	"empty temporary suffix": {src: `environment "prod" {
  database "main" {
    identifier = "shop-db"
  }
  migration {
    temporary_suffix = ""
  }
}
`, summary: "Empty temporary suffix", line: 6},
	"temporary suffix with an underscore": {src: `environment "prod" {
  database "main" {
    identifier = "shop-db"
  }
  migration {
    temporary_suffix = "_tmp"
  }
}
`, summary: "Invalid temporary suffix", line: 6},
	"temporary name collides with another database": {src: `environment "prod" {
  database "main" {
    identifier = "shop-db"
  }
  database "next" {
    identifier = "shop-db-next"
  }
  migration {
    temporary_suffix = "-next"
  }
}
`, summary: "Temporary name collides with a database", line: 3},
	"temporary suffix pushes the identifier past 63": {src: `environment "prod" {
  database "main" {
    identifier = "` + long56 + `"
  }
}
`, summary: "Temporary name too long", line: 3},
	"temporary suffix pushes the bucket name past 63": {src: `environment "prod" {
  bucket "b" {
    name = "` + strings.Repeat("b", 60) + `"
  }
}
`, summary: "Temporary bucket name too long", line: 3},
}
