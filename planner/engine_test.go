package planner

import "testing"

func TestUpgradeGroups(t *testing.T) {
	cases := []struct {
		name                                          string
		engine, from, to, liveParam, liveOption, spec string
		major                                         bool
		want                                          groupUpgrade
	}{
		{name: "minor", engine: "postgres", from: "15.5", to: "15.7", liveParam: "default.postgres15"},
		{name: "postgres default", engine: "postgres", from: "15.5", to: "16.3", liveParam: "default.postgres15", liveOption: "default:postgres-15", major: true,
			want: groupUpgrade{parameter: "default.postgres16", family: "postgres16", optionVersion: "postgres-16"}},
		{name: "postgres custom", engine: "postgres", from: "15.5", to: "16.3", liveParam: "orders-pg15", major: true,
			want: groupUpgrade{needParameter: "orders-pg15", family: "postgres16", optionVersion: "postgres-16"}},
		{name: "postgres custom, replacement named", engine: "postgres", from: "15.5", to: "16.3", liveParam: "orders-pg15", spec: "orders-pg16", major: true,
			want: groupUpgrade{parameter: "orders-pg16", family: "postgres16", optionVersion: "postgres-16"}},
		{name: "custom option group", engine: "mysql", from: "5.7.44", to: "8.0.35", liveParam: "default.mysql5.7", liveOption: "audit-57", major: true,
			want: groupUpgrade{parameter: "default.mysql8.0", needOption: "audit-57", family: "mysql8.0", optionVersion: "mysql-8-0"}},
		{name: "postgres 9.6", engine: "postgres", from: "9.6.24", to: "10.21", liveParam: "default.postgres9.6", major: true,
			want: groupUpgrade{parameter: "default.postgres10", family: "postgres10", optionVersion: "postgres-10"}},
		{name: "families not derived", engine: "oracle-ee", from: "19.0.0.0.ru-2023-01", to: "21.0.0.0.ru-2023-01", liveParam: "default.oracle-ee-19"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, major := upgradeGroups(tc.engine, tc.from, tc.to, tc.liveParam, tc.liveOption, tc.spec)
			if major != tc.major || got != tc.want {
				t.Fatalf("upgradeGroups = %+v, %v; want %+v, %v", got, major, tc.want, tc.major)
			}
		})
	}
}
