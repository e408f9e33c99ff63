#!/usr/bin/env bash
# Bucket copy benchmark: envmig's copy engine against rclone, s5cmd and the
# aws CLI, server-side copies between two buckets of one fast local S3 server
# (versitygw, posix backend) on 127.0.0.1, in the same run, tools alternated.
#
#   bench/run.sh [--large] [--runs N] [--only DATASET]
#
# Datasets: small (10,000 x 4 KiB under one prefix), big (20 x 16 MiB), and
# with --large also large (100,000 x 1 KiB over 10 prefixes of 10,000; the
# posix backend reads a whole directory for every listing page, so
# large-flat, 100,000 keys in one directory, measures mostly that; run it
# with --only large-flat). For each run and dataset: a full copy into a new
# bucket, a no-op re-sync, then 1 % of the source rewritten and a re-sync.
# Every copy is verified by envmig's manifest comparison (key, size, ETag).
# Prints medians, the ratio of each tool to the best peer, and peak RSS;
# raw figures go to bench/.work/results.tsv.
#
# Needs: Go, and network access to the Go module proxy (versitygw, s5cmd)
# and Debian's packages (rclone, awscli, time), installed when missing and
# run as root. A tool that cannot be had is skipped, with a note.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=$ROOT/bench/.work
BIN=$WORK/bin
RUNS=3
DATASETS="small big"
while [ $# -gt 0 ]; do
	case $1 in
	--large) DATASETS="$DATASETS large" ;;
	--runs) RUNS=$2; shift ;;
	--only) DATASETS=$2; shift ;;
	*) echo "usage: $0 [--large] [--runs N] [--only 'small big large large-flat']" >&2; exit 2 ;;
	esac
	shift
done

VERSITYGW_VERSION=v1.8.0
S5CMD_VERSION=v2.3.0
export GOFLAGS=-buildvcs=false
mkdir -p "$BIN"

say() { printf '%s\n' "$*" >&2; }

# ---- tools -----------------------------------------------------------------

install_tools() {
	if [ ! -x "$BIN/versitygw" ]; then
		say "installing versitygw $VERSITYGW_VERSION"
		GOBIN=$BIN go install "github.com/versity/versitygw/cmd/versitygw@$VERSITYGW_VERSION"
	fi
	if [ ! -x "$BIN/s5cmd" ]; then
		say "building s5cmd $S5CMD_VERSION"
		local dir
		dir=$(cd "$WORK" && go mod download -json "github.com/peak/s5cmd/v2@$S5CMD_VERSION" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
		if [ -n "$dir" ]; then
			rm -rf "$WORK/s5cmd-src"
			cp -r "$dir" "$WORK/s5cmd-src"
			chmod -R u+w "$WORK/s5cmd-src"
			rm -rf "$WORK/s5cmd-src/vendor"
			(cd "$WORK/s5cmd-src" && go build -mod=mod -o "$BIN/s5cmd" .) || say "s5cmd: build failed, skipped"
		else
			say "s5cmd: module download failed, skipped"
		fi
	fi
	local missing=()
	command -v rclone >/dev/null || missing+=(rclone)
	[ -x /usr/bin/aws ] || missing+=(awscli)
	[ -x /usr/bin/time ] || missing+=(time)
	if [ ${#missing[@]} -gt 0 ]; then
		if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
			say "installing ${missing[*]} from Debian"
			apt-get update -qq >/dev/null && apt-get install -y -qq "${missing[@]}" >/dev/null || true
		else
			say "missing ${missing[*]} and not root: those tools are skipped"
		fi
	fi
	[ -x /usr/bin/time ] || { say "GNU time (/usr/bin/time) is required"; exit 1; }
	say "building envmig's bench commands"
	(cd "$ROOT" && go build -o "$BIN/" ./bench/cmd/...)
}

# ---- the server ----------------------------------------------------------------

free_port() {
	local p
	for _ in $(seq 200); do
		p=$((20000 + RANDOM % 40000))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return
		fi
	done
	say "no free port"; exit 1
}

GW_PID=
stop_server() {
	if [ -n "$GW_PID" ]; then
		kill "$GW_PID" 2>/dev/null || true
		wait "$GW_PID" 2>/dev/null || true
		GW_PID=
	fi
}
trap stop_server EXIT

start_server() {
	PORT=$(free_port)
	rm -rf "$WORK/gw"
	mkdir -p "$WORK/gw"
	ROOT_ACCESS_KEY=envmigbench ROOT_SECRET_KEY=envmigbenchsecret \
		"$BIN/versitygw" --port "127.0.0.1:$PORT" posix "$WORK/gw" >"$WORK/versitygw.log" 2>&1 &
	GW_PID=$!
	for _ in $(seq 100); do
		if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
			break
		fi
		sleep 0.1
	done
	ENDPOINT=http://127.0.0.1:$PORT
	export AWS_ENDPOINT_URL=$ENDPOINT AWS_ACCESS_KEY_ID=envmigbench AWS_SECRET_ACCESS_KEY=envmigbenchsecret
	export AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true
	export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null AWS_PAGER=
	unset AWS_CA_BUNDLE AWS_PROFILE AWS_SESSION_TOKEN
	export RCLONE_CONFIG=/dev/null RCLONE_CONFIG_B_TYPE=s3 RCLONE_CONFIG_B_PROVIDER=Other
	export RCLONE_CONFIG_B_ENDPOINT=$ENDPOINT RCLONE_CONFIG_B_ACCESS_KEY_ID=envmigbench
	export RCLONE_CONFIG_B_SECRET_ACCESS_KEY=envmigbenchsecret RCLONE_CONFIG_B_REGION=us-east-1
	export RCLONE_CONFIG_B_FORCE_PATH_STYLE=true
	say "versitygw $VERSITYGW_VERSION on $ENDPOINT (pid $GW_PID)"
}

# ---- the tools under test ----------------------------------------------------

TOOLS=()
pick_tools() {
	TOOLS=(envmig)
	if command -v rclone >/dev/null; then TOOLS+=(rclone-tuned rclone); else say "rclone: not available, skipped"; fi
	if [ -x "$BIN/s5cmd" ]; then TOOLS+=(s5cmd); else say "s5cmd: not available, skipped"; fi
	if [ -x /usr/bin/aws ]; then TOOLS+=(aws); else say "aws CLI (Debian awscli): not available, skipped"; fi
}

# sync_cmd TOOL SRC DST sets CMD to the command of one sync. This is the
# one place that says how each tool is invoked.
sync_cmd() {
	local tool=$1 src=$2 dst=$3
	case $tool in
	envmig) CMD=("$BIN/bucketsync" -src "$src" -dst "$dst") ;;
	rclone-tuned) CMD=(rclone sync "B:$src" "B:$dst" --transfers 32 --checkers 32 --fast-list --checksum) ;;
	rclone) CMD=(rclone sync "B:$src" "B:$dst") ;;
	s5cmd) CMD=("$BIN/s5cmd" --endpoint-url "$ENDPOINT" sync --delete "s3://$src/*" "s3://$dst/") ;;
	aws) CMD=(/usr/bin/aws --endpoint-url "$ENDPOINT" s3 sync "s3://$src" "s3://$dst" --delete --only-show-errors --no-progress) ;;
	esac
}

RESULTS=$WORK/results.tsv

# timed DATASET TOOL SCENARIO RUN SRC DST: run one sync under GNU time, then
# verify the copy; append a line to RESULTS.
timed() {
	local ds=$1 tool=$2 sc=$3 run=$4 src=$5 dst=$6
	local tf=$WORK/time.out log=$WORK/tool.log
	local CMD
	sync_cmd "$tool" "$src" "$dst"
	# Flush what the previous tool (or the dataset writer) left dirty, so
	# its writeback is not billed to this tool.
	sync
	if ! /usr/bin/time -f '%e %M' -o "$tf" "${CMD[@]}" >"$log" 2>&1; then
		say "  $tool $sc: FAILED: $(tail -3 "$log")"
	fi
	local secs rss diffs detail
	read -r secs rss < <(tail -1 "$tf")
	if out=$("$BIN/bucketsync" -verify etag -src "$src" -dst "$dst" 2>&1); then
		diffs=0
	else
		diffs=$(sed -n 's/^verified .*: \([0-9]*\) differences$/\1/p' <<<"$out" | head -1)
		detail=$(grep -m1 '^  ' <<<"$out" || true)
		if "$BIN/bucketsync" -verify content -src "$src" -dst "$dst" >/dev/null 2>&1; then
			detail="$detail; content identical"
		fi
		say "  $tool $sc: ${diffs:-?} differences by manifest (etag):$detail"
	fi
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$ds" "$tool" "$sc" "$run" "$secs" "$rss" "${diffs:-?}" >>"$RESULTS"
	say "  $(printf '%-13s %-8s run %s: %6.2f s  %6d KiB  %s differences' "$tool" "$sc" "$run" "$secs" "$rss" "${diffs:-?}")"
}

dataset_args() {
	case $1 in
	small) echo "-n 10000 -size 4096" ;;
	big) echo "-n 20 -size 16777216" ;;
	large) echo "-n 100000 -size 1024 -prefixes 10" ;;
	large-flat) echo "-n 100000 -size 1024" ;;
	esac
}

# rotate prints TOOLS starting at index N: each run (and phase) starts with
# a different tool.
rotate() {
	local n=$1 i
	for i in "${!TOOLS[@]}"; do
		echo "${TOOLS[$(((i + n) % ${#TOOLS[@]}))]}"
	done
}

drop_bucket() { rm -rf "${WORK:?}/gw/$1"; }

bench_dataset() {
	local ds=$1 src=src-$1 args
	args=$(dataset_args "$ds")
	say "== dataset $ds: generating"
	# shellcheck disable=SC2086
	"$BIN/benchdata" -bucket "$src" $args -seed 1 >&2
	for run in $(seq "$RUNS"); do
		say "-- $ds run $run"
		local t
		for t in $(rotate "$run"); do
			"$BIN/benchdata" -bucket "d-$t-$ds" -create >/dev/null
			timed "$ds" "$t" full "$run" "$src" "d-$t-$ds"
		done
		for t in $(rotate "$((run + 1))"); do
			timed "$ds" "$t" noop "$run" "$src" "d-$t-$ds"
		done
		# shellcheck disable=SC2086
		"$BIN/benchdata" -bucket "$src" $args -mutate 100 -seed "$((run + 100))" >&2
		for t in $(rotate "$((run + 2))"); do
			timed "$ds" "$t" changed "$run" "$src" "d-$t-$ds"
		done
		for t in "${TOOLS[@]}"; do drop_bucket "d-$t-$ds"; done
	done
	drop_bucket "$src"
}

# ---- report ----------------------------------------------------------------------

report() {
	say ""
	awk -F'\t' '
	function median(list,   n, a, i, j, t) {
		n = split(list, a, " ")
		for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j-1] + 0 > a[j] + 0; j--) { t = a[j]; a[j] = a[j-1]; a[j-1] = t }
		return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
	}
	{
		k = $1 SUBSEP $2 SUBSEP $3
		secs[k] = secs[k] " " $5
		if ($6 + 0 > rss[$1 SUBSEP $2]) rss[$1 SUBSEP $2] = $6 + 0
		if ($7 != "0") bad[$1 SUBSEP $2] += ($7 == "?" ? 1 : $7)
		if (!($1 in seen_ds)) { seen_ds[$1] = 1; dss[++nds] = $1 }
		if (!($2 in seen_t)) { seen_t[$2] = 1; tools[++nt] = $2 }
	}
	END {
		split("full noop changed", scs, " ")
		printf "| dataset | tool | full copy | no-op re-sync | 1 %% changed | peak RSS | differences |\n"
		printf "|---|---|---|---|---|---|---|\n"
		for (d = 1; d <= nds; d++) {
			ds = dss[d]
			for (s = 1; s <= 3; s++) {
				best[s] = ""
				for (t = 1; t <= nt; t++) {
					k = ds SUBSEP tools[t] SUBSEP scs[s]
					if (tools[t] == "envmig" || !(k in secs)) continue
					m = median(secs[k])
					if (best[s] == "" || m < best[s]) best[s] = m
				}
			}
			for (t = 1; t <= nt; t++) {
				line = "| " ds " | " tools[t]
				for (s = 1; s <= 3; s++) {
					k = ds SUBSEP tools[t] SUBSEP scs[s]
					if (!(k in secs)) { line = line " | -"; continue }
					m = median(secs[k])
					r = (best[s] > 0) ? sprintf(" (%.2fx)", m / best[s]) : ""
					line = line sprintf(" | %.2f s%s", m, r)
				}
				line = line sprintf(" | %.0f MiB | %d |", rss[ds SUBSEP tools[t]] / 1024, bad[ds SUBSEP tools[t]])
				print line
			}
		}
		print ""
		print "Medians of each scenario; (N.NNx) = ratio to the best peer (envmig excluded) in that column."
	}' "$RESULTS"
}

main() {
	install_tools
	pick_tools
	start_server
	: >"$RESULTS"
	say "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -sr); $(go version)"
	say "tools: ${TOOLS[*]}"
	for ds in $DATASETS; do
		bench_dataset "$ds"
	done
	stop_server
	report
}

main
