#!/usr/bin/env bash
# Bucket copy benchmark: `envmig clone` and envmig's copy engine against
# rclone, s5cmd and the aws CLI, server-side copies between two buckets of
# one fast local S3 server (versitygw, posix backend) on 127.0.0.1, in the
# same run, tools alternated. `envmig clone` runs whole (plan, copy, verify)
# with STS from the local AWS emulator (moto) and S3 from versitygw
# (AWS_ENDPOINT_URL_S3).
#
#   bench/run.sh [--large] [--million] [--runs N] [--only DATASETS] [--tools TOOLS]
#
# Datasets: small (10,000 x 4 KiB under one prefix), big (20 x 16 MiB), and
# with --large also large (100,000 x 1 KiB over 10 prefixes of 10,000; the
# posix backend reads a whole directory for every listing page, so
# large-flat, 100,000 keys in one directory, measures mostly that; run it
# with --only large-flat). For each run and dataset: a full copy into a new
# bucket, a no-op re-sync, then 1 % of the source rewritten and a re-sync
# (`envmig clone` makes a new clone in the full copy only: a clone never
# re-syncs). Every copy is verified by envmig's manifest comparison (key,
# size, ETag). --million adds a no-op re-sync of 1,000,000 objects against a
# listing-only endpoint (bench/cmd/fakelist), for memory. Prints medians,
# the ratio of each tool to the best peer, and peak RSS; raw figures go to
# bench/.work/results.tsv, each tool's output to bench/.work/logs/
# (`envmig clone`'s shows how long each of its steps took).
#
# Needs: Go, Python 3 with moto (scripts/moto-env.sh installs it into .venv
# when missing), and network access to the Go module proxy (versitygw,
# s5cmd) and Debian's packages (rclone, awscli, time), installed when
# missing and run as root. A tool that cannot be had is skipped, with a note.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=$ROOT/bench/.work
BIN=$WORK/bin
RUNS=3
DATASETS="small big"
ONLY_TOOLS=
while [ $# -gt 0 ]; do
	case $1 in
	--large) DATASETS="$DATASETS large" ;;
	--million) DATASETS="$DATASETS million" ;;
	--runs) RUNS=$2; shift ;;
	--only) DATASETS=$2; shift ;;
	--tools) ONLY_TOOLS=$2; shift ;;
	*) echo "usage: $0 [--large] [--million] [--runs N] [--only 'small big large large-flat million'] [--tools 'envmig-engine envmig-clone ...']" >&2; exit 2 ;;
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
	say "building envmig and its bench commands"
	(cd "$ROOT" && go build -o "$BIN/" ./bench/cmd/... && go build -o "$BIN/envmig" ./cmd/envmig)
	# moto answers STS for `envmig clone`; without it the clone rows are skipped.
	ENVMIG_PYTHON=$( (source "$ROOT/scripts/moto-env.sh" >&2 && echo "$ENVMIG_PYTHON") || true)
}

# ---- the server ----------------------------------------------------------------

# free_port prints a loopback port nothing listens on, below the kernel's
# ephemeral range: a port in that range may be taken by any outgoing
# connection (the tools' own) between this check and the server's bind, and
# the server then fails to start ("Address already in use").
free_port() {
	local p lo=32768 hi
	read -r lo hi </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || true
	[ "$lo" -gt 11000 ] || lo=32768
	for _ in $(seq 200); do
		p=$((10000 + RANDOM % (lo - 10000)))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return
		fi
	done
	say "no free port"; exit 1
}

# The account moto names (its default) is the one versitygw's root user
# must be: envmig sends it as every S3 request's expected bucket owner.
ACCOUNT=123456789012

GW_PID=
MOTO_PID=
FAKE_PID=
stop_pid() {
	local pid=$1
	[ -n "$pid" ] || return 0
	kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
}
stop_server() {
	stop_pid "$GW_PID"
	stop_pid "$MOTO_PID"
	stop_pid "$FAKE_PID"
	GW_PID= MOTO_PID= FAKE_PID=
}
trap stop_server EXIT

start_server() {
	PORT=$(free_port)
	rm -rf "$WORK/gw"
	mkdir -p "$WORK/gw"
	# Keep-alive on, as S3 has it: without it (versitygw's default) every
	# request of every tool dials a TCP connection and the benchmark times
	# dialling. Quiet: its default logs every request to stdout, server CPU
	# taken from the 2 cores the clients share.
	ROOT_ACCESS_KEY=$ACCOUNT ROOT_SECRET_KEY=envmigbenchsecret \
		setsid "$BIN/versitygw" --port "127.0.0.1:$PORT" --keep-alive --quiet posix "$WORK/gw" >"$WORK/versitygw.log" 2>&1 &
	GW_PID=$!
	wait_port "$PORT" "$GW_PID" versitygw
	ENDPOINT=http://127.0.0.1:$PORT
	export AWS_ENDPOINT_URL=$ENDPOINT AWS_ACCESS_KEY_ID=$ACCOUNT AWS_SECRET_ACCESS_KEY=envmigbenchsecret
	export AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true
	export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null AWS_PAGER=
	unset AWS_CA_BUNDLE AWS_PROFILE AWS_SESSION_TOKEN AWS_ENDPOINT_URL_S3
	export RCLONE_CONFIG=/dev/null RCLONE_CONFIG_B_TYPE=s3 RCLONE_CONFIG_B_PROVIDER=Other
	export RCLONE_CONFIG_B_ENDPOINT=$ENDPOINT RCLONE_CONFIG_B_ACCESS_KEY_ID=$ACCOUNT
	export RCLONE_CONFIG_B_SECRET_ACCESS_KEY=envmigbenchsecret RCLONE_CONFIG_B_REGION=us-east-1
	export RCLONE_CONFIG_B_FORCE_PATH_STYLE=true
	say "versitygw $VERSITYGW_VERSION on $ENDPOINT (pid $GW_PID)"
}

wait_port() {
	local port=$1 pid=$2 what=$3
	for _ in $(seq 300); do
		if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
			return 0
		fi
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.2
	done
	say "$what did not start:"; tail -20 "$WORK/$what.log" >&2; exit 1
}

# start_moto starts the AWS emulator that answers envmig's STS calls, and
# writes the clone's spec: one bucket, given by a variable, verified at the
# level the tool's name says.
start_moto() {
	[ -n "$ENVMIG_PYTHON" ] || return 0
	local port
	port=$(free_port)
	setsid "$ENVMIG_PYTHON" -m moto.server -H 127.0.0.1 -p "$port" >"$WORK/moto.log" 2>&1 &
	MOTO_PID=$!
	wait_port "$port" "$MOTO_PID" moto
	MOTO=http://127.0.0.1:$port
	say "moto on $MOTO (pid $MOTO_PID)"
	local level
	for level in etag checksum; do
		rm -rf "$WORK/spec-$level"
		mkdir -p "$WORK/spec-$level"
		cat >"$WORK/spec-$level/bench.envmig.hcl" <<-EOF
		variable "bucket" {}
		aws {
		  region              = "us-east-1"
		  allowed_account_ids = ["$ACCOUNT"]
		}
		environment "bench" {
		  bucket "data" {
		    name = var.bucket
		  }
		  migration {
		    verify {
		      objects = "$level"
		    }
		  }
		}
		EOF
	done
}

# ---- the tools under test ----------------------------------------------------

TOOLS=()
pick_tools() {
	TOOLS=(envmig-engine)
	if [ -n "$ENVMIG_PYTHON" ]; then TOOLS+=(envmig-clone envmig-clone-cs); else say "moto: not available, the envmig clone rows are skipped"; fi
	if command -v rclone >/dev/null; then TOOLS+=(rclone-tuned rclone); else say "rclone: not available, skipped"; fi
	if [ -x "$BIN/s5cmd" ]; then TOOLS+=(s5cmd); else say "s5cmd: not available, skipped"; fi
	if [ -x /usr/bin/aws ]; then TOOLS+=(aws); else say "aws CLI (Debian awscli): not available, skipped"; fi
	if [ -n "$ONLY_TOOLS" ]; then
		local t kept=()
		for t in "${TOOLS[@]}"; do
			[[ " $ONLY_TOOLS " == *" $t "* ]] && kept+=("$t")
		done
		TOOLS=("${kept[@]}")
	fi
}

# is_clone TOOL: the tool is `envmig clone`, which makes its own
# destination (SRC-NAME) and never re-syncs.
is_clone() { [[ $1 == envmig-clone* ]]; }

# clone_name TOOL RUN is the clone's name; dst_of TOOL SRC DATASET RUN the
# bucket a tool copies into.
clone_name() { case $1 in envmig-clone) echo "e$2" ;; envmig-clone-cs) echo "c$2" ;; esac; }
dst_of() {
	if is_clone "$1"; then echo "$2-$(clone_name "$1" "$4")"; else echo "d-$1-$3"; fi
}

# sync_cmd TOOL SRC DST RUN sets CMD to the command of one sync. This is
# the one place that says how each tool is invoked.
sync_cmd() {
	local tool=$1 src=$2 dst=$3 run=$4
	case $tool in
	envmig-engine) CMD=("$BIN/bucketsync" -src "$src" -dst "$dst") ;;
	envmig-clone | envmig-clone-cs)
		local level=etag
		[ "$tool" = envmig-clone-cs ] && level=checksum
		CMD=(env AWS_ENDPOINT_URL="$MOTO" AWS_ENDPOINT_URL_S3="$ENDPOINT"
			"$BIN/envmig" -chdir "$WORK/spec-$level" -no-color clone bench -to "$(clone_name "$tool" "$run")"
			-var "bucket=$src" -auto-approve) ;;
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
	local tf=$WORK/time.out log=$WORK/logs/$ds-$tool-$sc-$run.log
	local CMD
	sync_cmd "$tool" "$src" "$dst" "$run"
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
			is_clone "$t" || "$BIN/benchdata" -bucket "d-$t-$ds" -create >/dev/null
			timed "$ds" "$t" full "$run" "$src" "$(dst_of "$t" "$src" "$ds" "$run")"
		done
		for t in $(rotate "$((run + 1))"); do
			is_clone "$t" || timed "$ds" "$t" noop "$run" "$src" "d-$t-$ds"
		done
		# shellcheck disable=SC2086
		"$BIN/benchdata" -bucket "$src" $args -mutate 100 -seed "$((run + 100))" >&2
		for t in $(rotate "$((run + 2))"); do
			is_clone "$t" || timed "$ds" "$t" changed "$run" "$src" "d-$t-$ds"
		done
		for t in "${TOOLS[@]}"; do drop_bucket "$(dst_of "$t" "$src" "$ds" "$run")"; done
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
		ran[$1 SUBSEP $2] = 1
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
					if (tools[t] ~ /^envmig/ || !(k in secs)) continue
					m = median(secs[k])
					if (best[s] == "" || m < best[s]) best[s] = m
				}
			}
			for (t = 1; t <= nt; t++) {
				if (!((ds SUBSEP tools[t]) in ran)) continue
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
		print "envmig-engine: the copy engine alone; envmig-clone: `envmig clone` whole (plan, copy, verify by ETag);"
		print "envmig-clone-cs: the same, verified at the default level (stored checksums by HEAD where the ETags cannot decide)."
	}' "$RESULTS"
}

# bench_million times a no-op re-sync of 1,000,000 objects (two listings
# merge-joined, nothing copied) against bench/cmd/fakelist, which lists the
# same objects in every bucket without storing any: envmig's engine, and
# tuned rclone (which lists with ListObjects v1 unless told otherwise).
bench_million() {
	local url run t tf=$WORK/time.out log=$WORK/tool.log secs rss
	say "== dataset million: 1,000,000 objects over 100 prefixes, listing-only endpoint"
	setsid "$BIN/fakelist" -n 1000000 -prefixes 100 >"$WORK/fakelist.url" 2>"$WORK/fakelist.log" &
	FAKE_PID=$!
	for _ in $(seq 100); do [ -s "$WORK/fakelist.url" ] && break; sleep 0.1; done
	url=$(cat "$WORK/fakelist.url")
	local tools=(envmig-engine)
	command -v rclone >/dev/null && tools+=(rclone-tuned)
	for run in $(seq "$RUNS"); do
		for t in "${tools[@]}"; do
			local CMD
			case $t in
			envmig-engine) CMD=(env AWS_ENDPOINT_URL="$url" "$BIN/bucketsync" -src million-a -dst million-b) ;;
			rclone-tuned) CMD=(env RCLONE_CONFIG_B_ENDPOINT="$url" rclone sync B:million-a B:million-b
				--transfers 32 --checkers 32 --fast-list --checksum --s3-list-version 2) ;;
			esac
			if ! /usr/bin/time -f '%e %M' -o "$tf" "${CMD[@]}" >"$log" 2>&1; then
				say "  $t noop: FAILED: $(tail -3 "$log")"
				continue
			fi
			if [ "$t" = envmig-engine ] && ! grep -q 'skipped 1000000, deleted 0' "$log"; then
				say "  $t noop: not a no-op: $(tail -1 "$log")"
				continue
			fi
			read -r secs rss < <(tail -1 "$tf")
			printf 'million\t%s\tnoop\t%s\t%s\t%s\t0\n' "$t" "$run" "$secs" "$rss" >>"$RESULTS"
			say "  $(printf '%-13s %-8s run %s: %6.2f s  %6d KiB' "$t" noop "$run" "$secs" "$rss")"
		done
	done
	if grep -q 'not implemented' "$WORK/fakelist.log"; then
		say "  fakelist was asked for more than listings:"; head -5 "$WORK/fakelist.log" >&2
	fi
	stop_pid "$FAKE_PID"; FAKE_PID=
}

main() {
	install_tools
	pick_tools
	start_server
	start_moto
	: >"$RESULTS"
	rm -rf "$WORK/logs"
	mkdir -p "$WORK/logs"
	say "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -sr); $(go version)"
	say "tools: ${TOOLS[*]}"
	for ds in $DATASETS; do
		if [ "$ds" = million ]; then bench_million; else bench_dataset "$ds"; fi
	done
	stop_server
	report
}

main
