#!/usr/bin/env bash
# Build the Go peers of the client tests from the Go module proxy, once:
#   containerd 2.x (containerd, containerd-shim-runc-v2, ctr), crictl and critest
#   (cri-tools' CRI validation suite, a Go test binary: built with `go test -c`),
# at the versions pinned in versions.env, into CACHE/<name>-<version>/ (default
# /var/cache/pyrunc-peers). A peer whose binaries are already there is not
# rebuilt, so later runs need no network. Module and build caches are temporary
# and removed afterwards: only the binaries are kept.
#   build.sh [CACHE]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=versions.env
. "$here/versions.env"
cache=${1:-/var/cache/pyrunc-peers}
GO=${GO:-$(command -v go || echo /usr/local/go/bin/go)}

ctrd_dir=$cache/containerd-$CONTAINERD2_VERSION
crictl_dir=$cache/crictl-$CRICTL_VERSION
critest_dir=$cache/critest-$CRICTL_VERSION
debs=$cache/debs
want=()
# Debian's dynamically linked busybox for critest's images (tests/cri/images.py): a package
# that conflicts with busybox-static, so it is downloaded, never installed
if ! compgen -G "$debs/busybox_*.deb" >/dev/null; then
	mkdir -p "$debs"
	(cd "$debs" && apt-get -q -o APT::Sandbox::User=root download busybox >/dev/null) ||
		{ echo "peers: cannot download Debian's busybox package" >&2; exit 1; }
fi
[[ -x $ctrd_dir/containerd && -x $ctrd_dir/containerd-shim-runc-v2 && -x $ctrd_dir/ctr ]] || want+=(containerd)
[[ -x $crictl_dir/crictl ]] || want+=(crictl)
[[ -x $critest_dir/critest ]] || want+=(critest)
if [[ ${#want[@]} -eq 0 ]]; then
	echo "peers: cached in $cache (containerd $CONTAINERD2_VERSION, crictl and critest $CRICTL_VERSION)"
	exit 0
fi
[[ -x $GO ]] || { echo "peers: no Go toolchain (looked for $GO)" >&2; exit 1; }

work=$(mktemp -d /tmp/pyrunc-peers-build.XXXXXX)
cleanup() { chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
export GOMODCACHE=$work/mod GOCACHE=$work/cache GOPATH=$work/gopath GOTOOLCHAIN=local GOFLAGS=-buildvcs=false

# go install MODULE/cmd/X@VERSION into a staging dir, then move the dir in place
# atomically, so an interrupted build never leaves a half-filled peer behind.
install() {   # ldflags tags cgo pkg...
	local ldflags=$1 tags=$2 cgo=$3; shift 3
	mkdir -p "$work/bin"
	GOBIN=$work/bin CGO_ENABLED=$cgo "$GO" install -trimpath -tags "$tags" -ldflags "-s -w $ldflags" "$@" \
		2> >(grep -v '^go: downloading' >&2)
}
t0=$SECONDS
for peer in "${want[@]}"; do
	case $peer in
	containerd)
		echo "peers: building containerd $CONTAINERD2_VERSION (about 5 minutes on 2 cores)"
		v="-X $CONTAINERD2_MODULE/version.Version=$CONTAINERD2_VERSION"
		# containerd's own Makefile: urfave_cli_no_docs everywhere, no_grpc for the shim;
		# no_btrfs: the btrfs snapshotter needs headers we do not install and is unused
		install "$v" "urfave_cli_no_docs no_btrfs" 1 \
			"$CONTAINERD2_MODULE/cmd/containerd@$CONTAINERD2_VERSION" "$CONTAINERD2_MODULE/cmd/ctr@$CONTAINERD2_VERSION"
		install "$v" "urfave_cli_no_docs no_grpc" 0 \
			"$CONTAINERD2_MODULE/cmd/containerd-shim-runc-v2@$CONTAINERD2_VERSION"
		dest=$ctrd_dir ;;
	crictl)
		echo "peers: building crictl $CRICTL_VERSION"
		install "-X $CRICTL_MODULE/pkg/version.Version=$CRICTL_VERSION" "" 0 \
			"$CRICTL_MODULE/cmd/crictl@$CRICTL_VERSION"
		dest=$crictl_dir ;;
	critest)
		# a test binary: `go install` refuses it (no non-test Go files); build it with
		# `go test -c` in a writable copy of the module's source (about 3 minutes on 2 cores)
		echo "peers: building critest $CRICTL_VERSION"
		src=$(GOFLAGS=-mod=mod "$GO" mod download -json "$CRICTL_MODULE@$CRICTL_VERSION" |
			sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
		[[ -d $src ]] || { echo "peers: cannot download $CRICTL_MODULE@$CRICTL_VERSION" >&2; exit 1; }
		cp -r "$src" "$work/cri-tools" && chmod -R u+w "$work/cri-tools" && mkdir -p "$work/bin"
		(cd "$work/cri-tools" && CGO_ENABLED=0 GOFLAGS="$GOFLAGS -mod=mod" "$GO" test -c -trimpath \
			-ldflags "-s -w -X $CRICTL_MODULE/pkg/version.Version=$CRICTL_VERSION" \
			-o "$work/bin/critest" ./cmd/critest 2> >(grep -v '^go: downloading' >&2))
		dest=$critest_dir ;;
	esac
	mkdir -p "$cache"
	rm -rf "$dest.new" && mv "$work/bin" "$dest.new" && rm -rf "$dest" && mv "$dest.new" "$dest"
done
echo "peers: built ${want[*]} into $cache in $((SECONDS - t0)) s"
