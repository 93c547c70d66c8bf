#!/usr/bin/env bash
# Build pyrunc with Debian 13's Python and test it there (host side, test support).
#
#   debian13.sh [--prepare]     --prepare: only make (or update) the cached tree
#
# The tree is Debian 13 (trixie) made by debootstrap from Debian's packages,
# from the mirror this host's apt uses, with the build and test dependencies;
# it is cached in PYRUNC_TRIXIE_CACHE (default /var/cache/pyrunc-trixie),
# built once and reused, never written by a run.  A run works on a throwaway
# overlay of it inside tests/support/sandbox.sh (private cgroups and /run):
# a copy of the project (the files git knows or would add) is built and
# installed there with the tree's python3, then the unit and integration
# tests and a scripted lifecycle with a seccomp profile run in that tree as
# the root (pivot_root), with /proc, /dev and /sys (the sandbox's cgroup
# mounts included) bound in.  The clients' and conformance tests stay on the
# host: their peers (containerd, podman, runc) are Debian 12's builds.
#
# Exit status: the tests' (0: all passed); 2 when the tree cannot be made.
set -euo pipefail

PROJECT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)
CACHE=${PYRUNC_TRIXIE_CACHE:-/var/cache/pyrunc-trixie}
SUITE=trixie
# the Makefile's DEB_PACKAGES that the unit and integration tests use
PACKAGES="gcc libc6-dev musl-tools make file libcap-dev libseccomp-dev python3 python3-dev python3-cffi
	python3-setuptools python3-pip python3-pytest python3-hypothesis python3-pyroute2
	python3-jsonschema busybox-static util-linux iproute2 procps strace"

die() { echo "debian13: $*" >&2; exit 2; }
[[ $(id -u) == 0 ]] || die "must run as root"

# -- inside the sandbox: one run on an overlay of the cached tree -------------
if [[ ${1:-} == __run ]]; then
	ROOT=$2
	# the sandbox's private /run and mount namespace: nothing here outlives the run
	w=/run/debian13
	mkdir -p "$w" && mount -t tmpfs -o mode=755 debian13-rw "$w"
	mkdir "$w/upper" "$w/work" "$w/root"
	r=$w/root
	mount -t overlay -o "lowerdir=$ROOT,upperdir=$w/upper,workdir=$w/work" debian13 "$r"
	mount -t proc proc "$r/proc"
	mount --rbind /sys "$r/sys"
	mount --rbind /dev "$r/dev"
	mount -t tmpfs -o mode=755 run "$r/run" && mkdir "$r/run/lock"
	mount -t tmpfs -o mode=1777 tmp "$r/tmp"
	mkdir -p "$r/root/pyrunc/build" "$r/.host"
	(cd "$PROJECT" && git ls-files -z --cached --others --exclude-standard | xargs -0 tar -c --no-recursion) |
		tar -x -C "$r/root/pyrunc"
	# the runtime-spec schema comes from a Go module on the host; copy it when the host has it
	cp -r "$PROJECT"/build/runtime-spec-* "$r/root/pyrunc/build/" 2>/dev/null || true
	# pivot_root, not chroot: setns() puts a process at its mount namespace's top
	# mount, so under a chroot `exec` into a container would land on the host's /
	cd "$r" && pivot_root . .host
	exec /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 \
		/bin/bash -euo pipefail -c '
		umount -l /.host && rmdir /.host
		cd /root/pyrunc
		echo "debian13: $(. /etc/os-release && echo "$PRETTY_NAME"), $(python3 --version), kernel $(uname -r)"
		make -s build >/dev/null 2>&1 || make build
		make -s install PREFIX=/opt/pyrunc
		export PYRUNC=/opt/pyrunc/bin/pyrunc
		rc=0
		python3 -m pytest -q -p no:cacheprovider -m "not cgroupv2 and not node" tests/unit tests/integration || rc=1
		bash tests/support/lifecycle.sh "$PYRUNC" || rc=1
		exit $rc'
fi

# -- the cached tree -----------------------------------------------------------
apt_get() { DEBIAN_FRONTEND=noninteractive apt-get -q -o DPkg::Lock::Timeout=600 "$@"; }

mirror() {   # the URI of the Debian archive this host's apt uses (deb822 or one-line sources)
	local uri
	uri=$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '
		/^URIs:/ { u = $2 } /^Suites:/ { s = $0 }
		/^$/ { if (u != "" && s !~ /security/) { print u; exit } u = ""; s = "" }
		END { if (u != "" && s !~ /security/) print u }' | head -n 1)
	[[ -n $uri ]] || uri=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
		awk '$1 == "deb" && $0 !~ /security/ { for (i = 2; i <= NF; i++) if ($i ~ /^https?:/) { print $i; exit } }' | head -n 1)
	echo "${uri:-http://deb.debian.org/debian}"
}

in_tree() {   # $1: tree, $2: shell command run chrooted with /proc and the host's DNS, in a private mount namespace
	unshare --mount --propagation private -- bash -c '
		mount -t proc proc "$1/proc" && mount --bind /etc/resolv.conf "$1/etc/resolv.conf" &&
		chroot "$1" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive sh -c "$2"' _ "$1" "$2"
}

make_tree() {   # debootstrap's minimal base once; then the tree's own apt adds what PACKAGES lacks
	local tmp=$CACHE/root.tmp want start=$SECONDS
	want=$(echo $PACKAGES | tr ' ' '\n' | sort | tr '\n' ' ')
	[[ $(cat "$CACHE/root/.pyrunc-packages" 2>/dev/null) != "$want" ]] || return 0
	if [[ ! -d $CACHE/root ]]; then
		command -v debootstrap >/dev/null || apt_get install -y --no-install-recommends debootstrap >/dev/null ||
			{ apt_get update >/dev/null && apt_get install -y --no-install-recommends debootstrap >/dev/null; } || return 1
		echo "debian13: debootstrap $SUITE from $(mirror) into $CACHE (once)" >&2
		rm -rf "$tmp"
		# minbase only: debootstrap's own resolver does not follow virtual packages (python3-ply-lex-3.10)
		debootstrap --variant=minbase --keyring=/usr/share/keyrings/debian-archive-keyring.gpg \
			"$SUITE" "$tmp" "$(mirror)" >"$CACHE/debootstrap.log" 2>&1 || { tail -n 20 "$CACHE/debootstrap.log" >&2; return 1; }
		mv "$tmp" "$CACHE/root"
	fi
	echo "debian13: installing into the $SUITE tree:" $want >&2
	in_tree "$CACHE/root" "apt-get -q update && apt-get -q install -y --no-install-recommends $want && apt-get clean" \
		>>"$CACHE/debootstrap.log" 2>&1 || { tail -n 20 "$CACHE/debootstrap.log" >&2; return 1; }
	echo "$want" >"$CACHE/root/.pyrunc-packages"
	echo "debian13: the $SUITE tree took $((SECONDS - start)) s" >&2
}

mkdir -p "$CACHE"
exec 9>"$CACHE/lock"
flock -w 1200 9 || die "$CACHE is locked by another debian13.sh for 20 minutes"
make_tree || die "cannot make the $SUITE tree in $CACHE (see $CACHE/debootstrap.log)"
exec 9>&-
[[ ${1:-} != --prepare ]] || { echo "debian13: ready: $CACHE/root" >&2; exit 0; }
# the tree is only read from here on: a shared lock keeps --prepare's updates out
exec 9<"$CACHE/lock"
flock -s -w 1200 9 || die "$CACHE is locked for 20 minutes"
exec bash "$PROJECT/tests/support/sandbox.sh" bash "$PROJECT/tests/support/debian13.sh" __run "$CACHE/root"
