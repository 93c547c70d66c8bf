#!/usr/bin/env bash
# One container's whole life through a runtime's CLI, with a seccomp profile (test support).
#
#   lifecycle.sh RUNTIME      as root, from the project directory
#
# create, state, start, exec (the profile denies mkdir with EPERM, the process
# sees the bundle's own files), kill, delete; each step is checked and printed.
# Exit status 0 when every step did what runc does; 1 and the step otherwise.
set -euo pipefail
RT=$1
dir=$(mktemp -d -t pyrunc-lifecycle.XXXXXX) id=lifecycle-$$
r() { "$RT" --root "$dir/state" "$@"; }
trap 'r delete --force "$id" >/dev/null 2>&1 || true; rm -rf "$dir"' EXIT
fail() { echo "lifecycle: FAILED: $*" >&2; exit 1; }
status() { r state "$id" | python3 -c 'import json, sys; print(json.load(sys.stdin)["status"])'; }

python3 bundles/mkbundle.py "$dir/bundle" >/dev/null
python3 - "$dir/bundle/config.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["process"]["args"] = ["sleep", "300"]
c["linux"]["seccomp"] = {"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64"],
                         "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]}
json.dump(c, open(sys.argv[1], "w"))
PY
r create --bundle "$dir/bundle" "$id" || fail "create"
[[ $(status) == created ]] || fail "state after create: $(status)"
r start "$id" || fail "start"
[[ $(status) == running ]] || fail "state after start: $(status)"
out=$(r exec "$id" sh -c 'mkdir /tmp/denied 2>&1; echo "exit $?"') || fail "exec"
[[ $out == *"Operation not permitted"*"exit 1" ]] || fail "the profile did not deny mkdir: $out"
out=$(r exec "$id" cat /etc/passwd) || fail "exec"
[[ $out == "$(cat "$dir/bundle/rootfs/etc/passwd")" ]] || fail "exec does not see the bundle's /etc/passwd: $out"
r kill "$id" KILL || fail "kill"
for _ in $(seq 50); do [[ $(status) == stopped ]] && break; sleep 0.1; done
[[ $(status) == stopped ]] || fail "state after kill: $(status)"
r delete "$id" || fail "delete"
! r state "$id" >/dev/null 2>&1 || fail "state after delete: the container is still there"
[[ ! -e $dir/state/$id ]] || fail "delete left $dir/state/$id"
echo "lifecycle: create, start, exec under seccomp, kill, delete: ok ($("$RT" --version | head -n 1))"
