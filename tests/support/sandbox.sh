#!/usr/bin/env bash
# Run a command as root in a private cgroup+mount namespace whose cgroup
# filesystems are rooted at a fresh cgroup of ours ("pyrunc-test.<pid>" in
# every hierarchy), with a private tmpfs on /run.
#
#   sandbox.sh COMMAND [ARGS...]
#
# Containers' absolute and relative cgroup paths then land below our own
# cgroup, never in a cgroup we did not create, and /run/pyrunc is private.
# On exit everything below our cgroups is killed and removed; at start, what a
# sandbox killed outright left (its pid gone) is removed too.
# SANDBOX_HIDE_UNIFIED=1 leaves a hybrid host's cgroup2 hierarchy unmounted
# inside (crun 1.8 refuses hybrid hosts whose cgroup2 has controllers).
set -u
[[ $(id -u) == 0 ]] || { echo "sandbox: must run as root" >&2; exit 2; }
NAME="pyrunc-test.$$"

# mountpoint fstype superoptions of every visible cgroup mount under /sys/fs/cgroup (inside a
# sandbox, mountinfo also lists the host's mounts that its own re-mounts cover: the last one counts)
cgroup_mounts() {
	awk '{ split($0, a, " - "); n = split(a[1], l, " "); split(a[2], r, " ")
	       if ((r[1] == "cgroup" || r[1] == "cgroup2") && index(l[5], "/sys/fs/cgroup") == 1) print l[5], r[1], r[3] }' \
		/proc/self/mountinfo | tac | awk '!seen[$1]++' | tac
}

purge() {   # kill everything in cgroup dir $1 and below, then rmdir bottom-up
	local d pid i
	for i in 1 2 3 4 5 6 7 8 9 10; do
		while read -r d; do
			[[ -w $d/cgroup.freeze ]] && echo 0 >"$d/cgroup.freeze" 2>/dev/null
			[[ -w $d/freezer.state ]] && echo THAWED >"$d/freezer.state" 2>/dev/null
			while read -r pid; do kill -9 "$pid" 2>/dev/null; done <"$d/cgroup.procs"
		done < <(find "$1" -depth -type d 2>/dev/null)
		find "$1" -depth -type d -exec rmdir {} + 2>/dev/null
		[[ -d $1 ]] || return 0
		sleep 0.2
	done
	echo "sandbox: warning: could not remove $1" >&2
}

inner() {
	mount --make-rprivate / || exit 3
	local mp fs opts mps=() fss=() optss=()
	while read -r mp fs opts; do mps+=("$mp"); fss+=("$fs"); optss+=("$opts"); done < <(cgroup_mounts)
	mount -t tmpfs -o mode=0755,size=64k pyrunc-sandbox /sys/fs/cgroup || exit 3
	for i in "${!mps[@]}"; do
		[[ ${SANDBOX_HIDE_UNIFIED:-} == 1 && ${fss[i]} == cgroup2 && ${mps[i]} != /sys/fs/cgroup ]] && continue
		mkdir -p "${mps[i]}"
		if [[ ${fss[i]} == cgroup2 ]]; then
			mount -t cgroup2 cgroup2 "${mps[i]}"
		else
			mount -t cgroup -o "$(tr ',' '\n' <<<"${optss[i]}" | grep -vxE 'rw|ro' | paste -sd,)" cgroup "${mps[i]}"
		fi || { echo "sandbox: cannot re-mount ${mps[i]}" >&2; exit 3; }
	done
	if [[ $(stat -f -c %T /sys/fs/cgroup) == cgroup2fs ]]; then
		# pure v2: keep the namespace root free of processes so that tests can enable controllers
		mkdir -p /sys/fs/cgroup/harness && echo $$ >/sys/fs/cgroup/harness/cgroup.procs
		sed 's/[^ ][^ ]*/+&/g' /sys/fs/cgroup/cgroup.controllers >/sys/fs/cgroup/cgroup.subtree_control 2>/dev/null
	fi
	mount -t tmpfs -o mode=0755 pyrunc-sandbox-run /run || exit 3
	mkdir -p /run/lock
	exec "$@"
}

if [[ ${1:-} == __inner ]]; then shift; inner "$@"; fi

# A sandbox killed outright (SIGKILL, a machine restart) runs no trap: its cgroups stay.  They are
# ours by name; sweep those whose sandbox process is gone (a live pid may be a sandbox at work).
sweep_stale() {   # $1: the directory holding sandboxes' cgroups
	local d
	for d in "$1"/pyrunc-test.*; do
		[[ -d $d && ${d##*.} =~ ^[0-9]+$ && ! -e /proc/${d##*.} ]] && purge "$d"
	done
}

dirs=()
while read -r mp fs opts; do
	if [[ $fs == cgroup2 && $mp == /sys/fs/cgroup ]]; then
		# pure v2 (e.g. the v2 VM): nest below our own cgroup
		own=$(awk -F: '$1 == "0" { print $3 }' /proc/self/cgroup)
		sweep_stale "$mp$own"
		mkdir -p "$mp$own/$NAME" && dirs+=("$mp$own/$NAME")
		continue
	fi
	sweep_stale "$mp"
	mkdir "$mp/$NAME" || { echo "sandbox: cannot create $mp/$NAME" >&2; exit 2; }
	dirs+=("$mp/$NAME")
	if [[ -f $mp/cpuset.cpus ]]; then
		cat "$mp/cpuset.cpus" >"$mp/$NAME/cpuset.cpus"
		cat "$mp/cpuset.mems" >"$mp/$NAME/cpuset.mems"
	fi
done < <(cgroup_mounts)

cleanup() { for d in "${dirs[@]}"; do purge "$d"; done; }
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

(
	for d in "${dirs[@]}"; do echo "$BASHPID" >"$d/cgroup.procs" || exit 3; done
	exec unshare --cgroup --mount --propagation private -- bash "$0" __inner "$@"
)
rc=$?
exit $rc
