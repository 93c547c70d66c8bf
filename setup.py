"""setuptools glue: cffi's cffi_modules (which pyproject.toml cannot declare), the static pyrunc-init and pyrunc-front."""
import os
import shutil
import subprocess
import sys
import sysconfig

from setuptools import setup
from setuptools.command.build_ext import build_ext


class BuildExtAndInit(build_ext):
    """Build the cffi extension, then pyrunc-init and pyrunc-front next to it.

    pyrunc-init must be static: it is exec'd after pivot_root, where a
    dynamic loader would come from the container's own files.  pyrunc-front
    (the installed command) is static because it is started on every call:
    static, it starts in a fraction of a millisecond less.  Both are linked
    against musl (musl-gcc; PYRUNC_STATIC_CC names another compiler driver):
    glibc's start-up probes the CPU's caches with cpuid, one trap to the
    hypervisor each on a VM, and an empty static glibc program took 0.97 ms
    to run where musl's took 0.33 (README "Performance").  musl-gcc sees
    only musl's headers: the kernel's (linux/, asm/) come from a directory of
    links to the build host's.  pyrunc-init's
    argv keys and flags (src/pyrunc/linux/initabi.py) and the front end's
    recipe format (src/pyrunc/frontabi.py) are written out as headers first,
    so that Python and C share one definition.
    """

    def run(self):
        super().run()
        out_dir = os.path.join("src" if self.inplace else self.build_lib, "pyrunc")
        os.makedirs(out_dir, exist_ok=True)
        abi_dir = os.path.join(self.build_temp, "abi")
        os.makedirs(abi_dir, exist_ok=True)
        for module, header in (("linux/initabi.py", "pyrunc_init_abi.h"), ("frontabi.py", "pyrunc_front_abi.h")):
            subprocess.check_call([sys.executable, f"src/pyrunc/{module}", os.path.join(abi_dir, header)])
        cc = static_cc()
        kernel = kernel_headers(os.path.join(self.build_temp, "kernel-headers"))
        for name in ("pyrunc_init", "pyrunc_front"):
            subprocess.check_call([cc, "-O2", "-Wall", "-Werror", "-static", "-s", "-isystem", kernel,
                                   "-I", abi_dir, "-o", os.path.join(out_dir, name.replace("_", "-")),
                                   f"csrc/{name}.c"])


def static_cc():
    cc = os.environ.get("PYRUNC_STATIC_CC") or shutil.which("musl-gcc")
    if not cc:
        sys.exit("building pyrunc-init and pyrunc-front: musl-gcc not found (Debian: apt-get install "
                 "musl-tools), or set PYRUNC_STATIC_CC to a compiler that links static programs")
    return cc


def kernel_headers(where):
    """A directory holding only the kernel's headers (linux/, asm/, asm-generic/), as links."""
    include = "/usr/include"
    arch = os.path.join(include, sysconfig.get_config_var("MULTIARCH") or "", "asm")
    os.makedirs(where, exist_ok=True)
    for name, target in (("linux", os.path.join(include, "linux")), ("asm", arch),
                         ("asm-generic", os.path.join(include, "asm-generic"))):
        if not os.path.isdir(target):
            sys.exit(f"building pyrunc-init and pyrunc-front: no kernel headers at {target} "
                     "(Debian: apt-get install linux-libc-dev)")
        link = os.path.join(where, name)
        if os.path.islink(link):
            os.unlink(link)
        os.symlink(target, link)
    return where


setup(cffi_modules=["csrc/build_native.py:ffibuilder", "csrc/build_native.py:seccompbuilder"],
      cmdclass={"build_ext": BuildExtAndInit})
