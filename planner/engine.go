package planner

import (
	"strconv"
	"strings"
)

// Major engine upgrades change the family of a database's parameter group
// (postgres15 → postgres16) and the engine version its option group is for.
// RDS gives an instance on a default group the default group of the new
// family, and refuses the upgrade of an instance on a custom group unless a
// group of the new family is named. The planner decides which before the
// run: the expected groups after the upgrade, or an error (EM116) naming
// the group to create.

// majorVersion is the part of an engine version that a major upgrade
// changes: "15" for PostgreSQL 10 and later, "9.6" before, "8.0" for MySQL
// and MariaDB.
func majorVersion(engine, version string) string {
	parts := strings.Split(version, ".")
	if strings.Contains(engine, "postgres") {
		if n, err := strconv.Atoi(parts[0]); err == nil && n >= 10 {
			return parts[0]
		}
	}
	if len(parts) >= 2 {
		return parts[0] + "." + parts[1]
	}
	return version
}

// parameterFamily is the DB parameter group family of an engine version
// (postgres16, mysql8.0, mariadb10.11), or "" for engines whose families
// envmig does not derive (Oracle, SQL Server, Aurora: they name editions
// and versions differently).
func parameterFamily(engine, version string) string {
	switch engine {
	case "postgres", "mysql", "mariadb":
		return engine + majorVersion(engine, version)
	}
	return ""
}

// optionGroupVersion is how RDS's default option group names a major
// version: default:postgres-16, default:mysql-8-0.
func optionGroupVersion(engine, version string) string {
	switch engine {
	case "postgres", "mysql", "mariadb":
		return engine + "-" + strings.ReplaceAll(majorVersion(engine, version), ".", "-")
	}
	return ""
}

// groupUpgrade is what a major version upgrade does to the database's
// parameter and option groups.
type groupUpgrade struct {
	// parameter is the parameter group after the upgrade ("" when
	// unchanged or unknown).
	parameter string
	// needParameter and needOption name a custom group of the old version
	// for which the spec names no replacement: the upgrade cannot run.
	needParameter, needOption string
	// family and optionVersion are the new family and option group version.
	family, optionVersion string
}

// upgradeGroups decides the groups of a database going from version from to
// version to; specParameter is the spec's parameter_group ("" when unset).
// It reports ok=false when the upgrade is not a major one (or the engine's
// families are not known): the groups then stay as they are.
func upgradeGroups(engine, from, to, liveParameter, liveOption, specParameter string) (groupUpgrade, bool) {
	oldFamily, newFamily := parameterFamily(engine, from), parameterFamily(engine, to)
	if oldFamily == "" || newFamily == "" || oldFamily == newFamily {
		return groupUpgrade{}, false
	}
	u := groupUpgrade{family: newFamily, optionVersion: optionGroupVersion(engine, to)}
	switch {
	case specParameter != "" && specParameter != liveParameter:
		u.parameter = specParameter
	case liveParameter == "" || liveParameter == "default."+oldFamily:
		u.parameter = "default." + newFamily
	default:
		u.needParameter = liveParameter
	}
	// Default option groups ("default:postgres-15") follow the upgrade by
	// themselves; a custom one must be replaced by one for the new version.
	if liveOption != "" && !strings.HasPrefix(liveOption, "default:") {
		u.needOption = liveOption
	}
	return u, true
}
