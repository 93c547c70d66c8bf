#!/usr/bin/env bash
# Run one command as root in a throwaway QEMU guest whose only cgroup hierarchy
# is cgroup v2 with every controller enabled (host side, test support).
#
#   v2vm.sh [--systemd] [--timeout S] [--cpus N] [--mem MIB] [-v] [--] PROGRAM [ARGS...]
#   v2vm.sh [--systemd] --prepare   install what is missing and fill the cache; no boot
#
# Why a VM: on a hybrid host (ours and CI's) cpu, memory, pids, io and cpuset
# stay on v1; a controller moves to cgroup2 only once its v1 hierarchy is
# unmounted everywhere, host included.  The guest kernel (cgroup_no_v1=all) is
# Debian's linux-image-amd64, fetched with `apt-get download` and unpacked into
# the cache, never installed.  The guest's / is the host's / read-only (9p)
# under a tmpfs overlay; the project directory is shared read-write at the same
# path.  PROGRAM runs there as root with the caller's environment; its stdout
# and stderr stream back live on two virtio-serial ports.
#
# In the guest: cgroup2 at /sys/fs/cgroup with every controller in the root's
# cgroup.subtree_control, 16 reserved 2 MiB huge pages, a 64 MiB scratch disk
# /dev/vda (for io.max), V2VM_GUEST=1.  Only writes to the project dir persist.
#
# --systemd (or V2VM_SYSTEMD=1): the guest boots like a node instead.  The
# host's systemd is PID 1 with its unified cgroup layout, D-Bus runs, and
# AppArmor is the active LSM (securityfs mounted, the host's apparmor_parser
# and profiles).  PROGRAM runs as the service v2vm-command.service
# (Delegate=yes, in its leaf cgroup "payload", with V2VM_SYSTEMD=1) once
# `systemctl is-system-running --wait` returns; the guest then powers off.
# The boot target is v2vm.target: basic.target (sysinit, sockets, paths...)
# and dbus, not multi-user.target, whose host services (containerd, a
# database...) are not the guest's business; timers.target is masked.  /tmp
# is a tmpfs there (the host's /tmp is not seen).
#
# Exit status: PROGRAM's; 124 when --timeout expired; 125 when the guest did
# not boot within V2VM_BOOT_TIMEOUT seconds (default 180) or died without an
# exit status; 2 for a usage error or no kernel.  Environment: V2VM_CACHE
# (default /var/cache/pyrunc-v2vm), V2VM_ACCEL (auto|kvm|tcg).
set -euo pipefail

PROJECT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)
CACHE=${V2VM_CACHE:-/var/cache/pyrunc-v2vm}
ACCEL=${V2VM_ACCEL:-auto}
BOOT_TIMEOUT=${V2VM_BOOT_TIMEOUT:-180}
TIMEOUT=0 CPUS=2 MEM=2048 VERBOSE=0 PREPARE=0 SYSTEMD=${V2VM_SYSTEMD:-0}
HUGEPAGES=16 DISK_MB=64
MODULES="virtio_pci virtio_console virtio_blk 9pnet_virtio 9p overlay"
PACKAGES="qemu-system-x86 busybox-static kmod"
# the node's programs come from the host's root, which is the guest's
NODE_PACKAGES="systemd dbus apparmor"
# masked in the node: a timer's service starting mid-test would show up in the tests' leak checks
NODE_MASKED="timers.target"

die() { echo "v2vm: $*" >&2; exit 2; }
while [[ $# -gt 0 ]]; do
	case $1 in
	--timeout) TIMEOUT=$2; shift 2 ;;
	--cpus) CPUS=$2; shift 2 ;;
	--mem) MEM=$2; shift 2 ;;
	-v) VERBOSE=1; shift ;;
	--prepare) PREPARE=1; shift ;;
	--systemd) SYSTEMD=1; shift ;;
	--) shift; break ;;
	-*) die "unknown option $1" ;;
	*) break ;;
	esac
done
[[ $PREPARE == 1 || $# -gt 0 ]] || die "usage: v2vm.sh [--systemd] [--timeout S] [--cpus N] [--mem MIB] [-v] [--] PROGRAM [ARGS...]"
[[ $SYSTEMD == [01] ]] || die "V2VM_SYSTEMD must be 0 or 1"
[[ $SYSTEMD == 0 ]] || PACKAGES+=" $NODE_PACKAGES"
for n in "$TIMEOUT" "$CPUS" "$MEM" "$BOOT_TIMEOUT"; do [[ $n =~ ^[0-9]+$ ]] || die "not a number: $n"; done
[[ $(id -u) == 0 ]] || die "must run as root (the 9p shares keep the host's owners)"

apt_get() { DEBIAN_FRONTEND=noninteractive apt-get -q -o DPkg::Lock::Timeout=600 -o APT::Sandbox::User=root "$@"; }

# -- packages: install only what is missing -----------------------------------
missing=$(for p in $PACKAGES; do dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q 'ok installed' || echo "$p"; done)
if [[ -n $missing ]]; then
	echo "v2vm: installing" $missing >&2
	apt_get install -y --no-install-recommends $missing >/dev/null ||
		{ apt_get update >/dev/null && apt_get install -y --no-install-recommends $missing >/dev/null; } ||
		die "cannot install" $missing
fi

# -- the cache: kernel, modules, vmlinux, initramfs; one builder at a time ----
mkdir -p "$CACHE"
exec 9>"$CACHE/lock"
flock -w 1200 9 || die "$CACHE is locked by another v2vm.sh for 20 minutes"

kernel_package() { apt-cache depends linux-image-amd64 2>/dev/null | awk '$1 == "Depends:" && $2 ~ /^linux-image-[0-9]/ { print $2; exit }'; }

unpack_kernel() {   # $1: package -> $CACHE/$1/root (its files, depmod'ed) and $CACHE/$1/vmlinux
	local tmp=$CACHE/$1.tmp
	echo "v2vm: downloading $1 (unpacked into $CACHE, not installed)" >&2
	rm -rf "$tmp" && mkdir -p "$tmp/deb" &&
		(cd "$tmp/deb" && apt_get download "$1" >/dev/null) &&
		dpkg-deb -x "$tmp"/deb/*.deb "$tmp/root" &&
		rm -rf "$tmp/deb" &&
		depmod -b "$tmp/root" "$(ls "$tmp/root/lib/modules")" || return 1
	# Under emulation the guest's own XZ decompression of the bzImage costs
	# ~5 s; qemu boots the uncompressed ELF directly through its PVH entry.
	/usr/bin/python3 - "$tmp"/root/boot/vmlinuz-* "$tmp/vmlinux" <<-'PY' || echo "v2vm: no PVH vmlinux, booting the bzImage" >&2
	import lzma, struct, sys
	img = open(sys.argv[1], "rb").read()
	setup_sects = img[0x1f1] or 4                      # x86 boot protocol: 0 means 4
	off, size = struct.unpack_from("<II", img, 0x248)  # payload_offset, payload_length
	payload = img[(setup_sects + 1) * 512 + off:][:size]
	elf = lzma.LZMADecompressor().decompress(payload)  # Debian compresses it with XZ
	# qemu takes an ELF kernel only with a PVH note (Xen note type 18, PHYS32_ENTRY)
	phoff, = struct.unpack_from("<Q", elf, 0x20)
	phentsize, phnum = struct.unpack_from("<HH", elf, 0x36)
	for i in range(phnum):
	    ptype, _, poff, _, _, psize = struct.unpack_from("<IIQQQQ", elf, phoff + i * phentsize)
	    n = poff
	    while ptype == 4 and n < poff + psize:          # PT_NOTE: walk its notes
	        namesz, descsz, ntype = struct.unpack_from("<III", elf, n)
	        if elf[n + 12:n + 15] == b"Xen" and ntype == 18:
	            open(sys.argv[2], "wb").write(elf)
	            sys.exit(0)
	        n += 12 + (namesz + 3) // 4 * 4 + (descsz + 3) // 4 * 4
	sys.exit(1)
	PY
	mv "$tmp" "$CACHE/$1"
}

kpkg=$(kernel_package)
[[ -n $kpkg ]] || { apt_get update >/dev/null || true; kpkg=$(kernel_package); }
if [[ -n $kpkg && ! -d $CACHE/$kpkg ]] && ! unpack_kernel "$kpkg"; then
	apt_get update >/dev/null || true   # stale lists can name a version the mirror dropped
	kpkg=$(kernel_package)
	[[ -z $kpkg || -d $CACHE/$kpkg ]] || unpack_kernel "$kpkg" || kpkg=
fi
if [[ -z $kpkg || ! -d $CACHE/$kpkg ]]; then   # registry unreachable: the newest cached kernel
	kpkg=$(cd "$CACHE" && ls -d linux-image-* 2>/dev/null | grep -v '\.tmp$' | sort -V | tail -n 1) || true
fi
[[ -n $kpkg && -d $CACHE/$kpkg ]] || die "no guest kernel: downloading linux-image-amd64's kernel package failed"
KDIR=$CACHE/$kpkg
MODDIR=$(echo "$KDIR"/root/lib/modules/*)
KVER=${MODDIR##*/}
KERNEL=$KDIR/vmlinux
[[ -s $KERNEL ]] || KERNEL=$(echo "$KDIR"/root/boot/vmlinuz-*)

# The guest's /init, in stages: without an argument (in the initramfs) it
# builds the root and switches to it; "guest" (PID 1 there) sets up cgroup2,
# runs the command and powers off, or, for a node, sets up the units and
# becomes systemd, whose v2vm-command.service runs it again as "command".
# Busybox runs it; all paths are the guest's.
read -r -d '' INIT <<'SH' || true
#!/bin/busybox sh
fail() { echo "v2vm guest: $*" >/dev/console; busybox poweroff -f; }
run() {   # the command, its output streamed on the virtio ports, its status to the host; power off
	out=/dev/console err=/dev/console
	for p in /sys/class/virtio-ports/*; do
		case $(cat "$p/name") in
		v2vm.out) out=/dev/${p##*/} ;;
		v2vm.err) err=/dev/${p##*/} ;;
		esac
	done
	echo "v2vm: the command starts at $(cut -d' ' -f1 /proc/uptime) s" >/dev/console
	: >$ctl/booted
	/bin/bash $ctl/cmd </dev/null >$out 2>$err
	echo $? >$ctl/rc
	sync
	poweroff -f
}
if [ "$1" != guest ] && [ "$1" != command ]; then   # the kernel may pass unknown parameters as arguments
	/bin/busybox --install -s /bin
	export PATH=/bin
	mount -t proc proc /proc && mount -t sysfs sysfs /sys && mount -t devtmpfs dev /dev
	for m in $(cat /modules); do insmod "/$m" || fail "insmod $m"; done
	p9="trans=virtio,version=9p2000.L,msize=512000"
	mkdir -p /ctl /host /rw /root
	mount -t 9p -o "$p9,cache=none" ctl /ctl || fail "no control share"
	. /ctl/config
	# cache=loose: the read-only host root does not change under the guest
	mount -t 9p -o "$p9,ro,cache=loose" host /host || fail "no host root"
	mount -t tmpfs -o mode=755 rw /rw && mkdir /rw/upper /rw/work
	mount -t overlay -o lowerdir=/host,upperdir=/rw/upper,workdir=/rw/work root /root || fail "no overlay"
	mount -t tmpfs -o mode=755,nosuid,nodev run /root/run
	mkdir -p /root/run/v2vm/bin /root/run/v2vm/ctl "/root/lib/modules/$KVER" "/root$PROJECT"
	cp /bin/busybox /init /root/run/v2vm/bin/
	mount --move /ctl /root/run/v2vm/ctl
	mount --bind "/host$MODDIR" "/root/lib/modules/$KVER"
	mount -t 9p -o "$p9,cache=mmap" project "/root$PROJECT" || fail "no project share"
	for d in dev proc sys; do mount --move /$d /root/$d; done
	exec switch_root /root /run/v2vm/bin/busybox sh /run/v2vm/bin/init guest
fi
export PATH=/run/v2vm/bin
ctl=/run/v2vm/ctl
. $ctl/config
if [ "$1" = command ]; then
	# systemd's service: the command sees a booted node, however degraded
	state=$(/bin/systemctl is-system-running --wait)
	echo "v2vm: systemd: $state at $(cut -d' ' -f1 /proc/uptime) s" >/dev/console
	[ "$state" = running ] || /bin/systemctl --failed --no-legend --plain >/dev/console
	# Delegate=yes: our cgroup is ours to divide, once no process sits in it (no internal processes)
	cg=/sys/fs/cgroup$(sed -n 's/^0:://p' /proc/self/cgroup)
	mkdir "$cg/payload" && echo $$ >"$cg/payload/cgroup.procs" &&
		sed 's/[^ ][^ ]*/+&/g' "$cg/cgroup.controllers" >"$cg/cgroup.subtree_control" ||
		fail "cannot use the delegated cgroup $cg"
	run
fi
/run/v2vm/bin/busybox --install -s /run/v2vm/bin
echo "$HUGEPAGES" >/proc/sys/vm/nr_hugepages
if [ "$SYSTEMD" = 1 ]; then
	u=/etc/systemd/system
	printf '%s\n' '[Unit]' 'Description=v2vm: a basic node with D-Bus, and the command' \
		'Requires=basic.target' 'Wants=dbus.service v2vm-command.service' 'After=basic.target' >$u/v2vm.target
	printf '%s\n' '[Unit]' 'Description=v2vm: the command' 'After=basic.target dbus.service' \
		'[Service]' 'Type=exec' 'Delegate=yes' 'Environment=V2VM_GUEST=1 V2VM_SYSTEMD=1' \
		'ExecStart=/run/v2vm/bin/busybox sh /run/v2vm/bin/init command' >$u/v2vm-command.service
	for m in $NODE_MASKED; do ln -sf /dev/null "$u/$m"; done
	# the host's container marker would make systemd skip a VM's set-up (securityfs, for one)
	rm -f /.dockerenv
	# /tmp a tmpfs, as Debian 13 has it: systemd-tmpfiles-setup empties /tmp at boot,
	# and emptying the host's /tmp through 9p took minutes under emulation
	mount -t tmpfs -o mode=1777,nosuid,nodev tmp /tmp
	echo "v2vm: systemd starts at $(cut -d' ' -f1 /proc/uptime) s" >/dev/console
	exec /lib/systemd/systemd --unit=v2vm.target
fi
mkdir -p /dev/pts /dev/shm /dev/mqueue
mount -t devpts -o gid=5,mode=620,ptmxmode=666 devpts /dev/pts && ln -sf pts/ptmx /dev/ptmx
mount -t tmpfs -o mode=1777,nosuid,nodev shm /dev/shm
mount -t mqueue mqueue /dev/mqueue
ln -sf /proc/self/fd /dev/fd
mount -t cgroup2 -o nsdelegate,memory_recursiveprot cgroup2 /sys/fs/cgroup || fail "no cgroup2"
sed 's/[^ ][^ ]*/+&/g' /sys/fs/cgroup/cgroup.controllers >/sys/fs/cgroup/cgroup.subtree_control || fail "cannot enable the controllers"
mount -t bpf bpf /sys/fs/bpf
hostname v2vm
ip link set lo up
run
SH

modules_in_load_order() {   # paths below $MODDIR, each module after its dependencies
	local m line
	for m in $MODULES; do
		# busybox insmod takes only uncompressed modules, as Debian 12's kernels ship them
		if ! line=$(grep -m1 -E "/${m//_/[_-]}\.ko:" "$MODDIR/modules.dep"); then
			grep -qE "/${m//_/[_-]}\.ko" "$MODDIR/modules.builtin" || die "kernel $KVER has no uncompressed module $m"
			continue
		fi
		# "mod.ko: depN.ko ... dep1.ko": modprobe loads the list from its end
		set -- ${line/:/}
		printf '%s\n' "${@:2}" | tac
		echo "$1"
	done | awk 'NF && !seen[$0]++'
}
MODLIST=$(modules_in_load_order)

INITRD=$KDIR/initramfs-$( { echo "$INIT"; echo "$MODLIST"; cat /bin/busybox; } | sha256sum | cut -c1-16).cpio
if [[ ! -s $INITRD ]]; then
	ir=$(mktemp -d "$CACHE/initramfs.XXXXXX")
	mkdir "$ir/bin" "$ir/proc" "$ir/sys" "$ir/dev"
	cp /bin/busybox "$ir/bin/busybox"
	printf '%s\n' "$INIT" >"$ir/init" && chmod 755 "$ir/init"
	for m in $MODLIST; do cp "$MODDIR/$m" "$ir/" && echo "${m##*/}"; done >"$ir/modules"
	(cd "$ir" && find . | /bin/busybox cpio -o -H newc 2>/dev/null) >"$INITRD.tmp"
	mv "$INITRD.tmp" "$INITRD" && rm -rf "$ir"
fi
exec 9>&-
[[ $PREPARE == 0 ]] || { echo "v2vm: ready: $KERNEL" >&2; exit 0; }

# -- one run ---------------------------------------------------------------------
RUN=$(mktemp -d -t pyrunc-v2vm.XXXXXX)
QPID= WATCH= READERS=()
cleanup() {   # our own qemu, watchdog and stream readers, and the run directory
	local p
	[[ -z $WATCH ]] || kill "$WATCH" 2>/dev/null || true   # TERM: it stops its own sleep
	for p in $QPID "${READERS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
	wait $WATCH $QPID "${READERS[@]}" 2>/dev/null || true   # reap them, quietly
	rm -rf "$RUN"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP
mkdir "$RUN/ctl"
printf 'KVER=%q MODDIR=%q PROJECT=%q HUGEPAGES=%d SYSTEMD=%d NODE_MASKED=%q\n' \
	"$KVER" "$MODDIR" "$PROJECT" "$HUGEPAGES" "$SYSTEMD" "$NODE_MASKED" >"$RUN/ctl/config"
{
	export -p | grep -vE '^declare -x (PWD|OLDPWD|SHLVL|_|V2VM_SYSTEMD)(=|$)'
	echo 'export V2VM_GUEST=1'
	[[ $SYSTEMD == 0 ]] || echo 'export V2VM_SYSTEMD=1'
	printf 'cd %q || exit 125\n' "$PROJECT"
	printf 'exec'; printf ' %q' "$@"; echo
} >"$RUN/ctl/cmd"

# KVM only where /dev/kvm is hardware KVM: a PVM /dev/kvm (kvm_pvm, as on CI)
# runs only PVM-aware guest kernels and hangs a stock one.
if [[ $ACCEL == auto ]]; then
	ACCEL=tcg
	[[ -w /dev/kvm && ( -d /sys/module/kvm_intel || -d /sys/module/kvm_amd ) ]] && ACCEL=kvm
fi
case $ACCEL in
kvm) accel=(-accel kvm -cpu host) ;;
tcg) accel=(-accel tcg,thread=multi -cpu max) ;;
*) die "V2VM_ACCEL must be auto, kvm or tcg" ;;
esac

qargs=(-nodefaults -no-user-config -display none -no-reboot
	-machine q35 "${accel[@]}" -smp "$CPUS" -m "$MEM"
	-chardev "file,id=console,path=$RUN/console" -serial chardev:console
	-device virtio-serial-pci
	-chardev "file,id=out,path=$RUN/out" -device virtserialport,chardev=out,name=v2vm.out
	-chardev "file,id=err,path=$RUN/err" -device virtserialport,chardev=err,name=v2vm.err
	-drive "file=$RUN/disk,if=virtio,format=raw,cache=unsafe")
for share in "ctl:$RUN/ctl:" "host:/:,readonly=on" "project:$PROJECT:"; do
	IFS=: read -r tag path opts <<<"$share"
	qargs+=(-fsdev "local,id=$tag,path=$path,security_model=passthrough,multidevs=remap$opts"
		-device "virtio-9p-pci,fsdev=$tag,mount_tag=$tag")
done
# no v1 hierarchies; the rest shortens the boot under emulation
cmdline="console=ttyS0 loglevel=4 panic=-1 rdinit=/init cgroup_no_v1=all mitigations=off nokaslr"
cmdline+=" random.trust_cpu=on tsc=reliable no_timer_check i8042.noaux i8042.nokbd i8042.nopnp"
# a node: AppArmor the major LSM (Debian's default, said outright), systemd's unified layout
[[ $SYSTEMD == 0 ]] || cmdline+=" apparmor=1 security=apparmor systemd.unified_cgroup_hierarchy=1 systemd.hostname=v2vm"

truncate -s "${DISK_MB}M" "$RUN/disk"
mkfifo "$RUN/out" "$RUN/err" "$RUN/console"
cat "$RUN/out" & READERS+=($!)
cat "$RUN/err" >&2 & READERS+=($!)
if [[ $VERBOSE == 1 ]]; then tee "$RUN/console.log" <"$RUN/console" >&2 & else cat "$RUN/console" >"$RUN/console.log" & fi
READERS+=($!)
qemu-system-x86_64 "${qargs[@]}" -kernel "$KERNEL" -initrd "$INITRD" -append "$cmdline" \
	</dev/null >"$RUN/qemu.log" 2>&1 &
QPID=$!

watchdog() {   # ends a guest that does not boot in time or overruns --timeout
	local s= first=$BOOT_TIMEOUT
	trap '[[ -z $s ]] || kill $s; exit 0' TERM
	stop() { kill "$QPID"; sleep 10 & s=$!; wait $s; kill -9 "$QPID"; }
	[[ $TIMEOUT == 0 || $TIMEOUT -ge $BOOT_TIMEOUT ]] || first=$TIMEOUT
	sleep "$first" & s=$!; wait $s
	if [[ ! -e $RUN/ctl/booted ]]; then
		echo "the guest did not boot within ${first}s" >"$RUN/$([[ $first == "$TIMEOUT" ]] && echo timeout || echo killed)"
		stop; exit 0
	fi
	[[ $TIMEOUT -gt 0 ]] || exit 0
	sleep $((TIMEOUT - first)) & s=$!; wait $s
	echo "timed out after ${TIMEOUT}s" >"$RUN/timeout"; stop
}
watchdog & WATCH=$!

qrc=0
wait "$QPID" || qrc=$?
QPID=
kill "$WATCH" 2>/dev/null || true
wait "$WATCH" || true
WATCH=
# a reader still blocked in open() (qemu never opened its fifo) gets EOF from a brief writer
for f in out err console; do exec 3<>"$RUN/$f"; exec 3>&-; done
wait "${READERS[@]}" 2>/dev/null || true
READERS=()

[[ ! -s $RUN/ctl/rc ]] || exit "$(cat "$RUN/ctl/rc")"
[[ ! -s $RUN/timeout ]] || { echo "v2vm: $(cat "$RUN/timeout")" >&2; exit 124; }
if [[ -s $RUN/killed ]]; then echo "v2vm: $(cat "$RUN/killed")" >&2
else echo "v2vm: the guest ended without an exit status (qemu exit $qrc)" >&2; fi
sed 's/^/v2vm qemu: /' "$RUN/qemu.log" | tail -n 20 >&2
tail -n 30 "$RUN/console.log" | sed 's/^/v2vm console: /' >&2
exit 125
