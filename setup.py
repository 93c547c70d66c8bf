"""setuptools glue: cffi's cffi_modules (which pyproject.toml cannot declare), the static pyrunc-init and pyrunc-front."""
import os
import subprocess
import sys

from setuptools import setup
from setuptools.command.build_ext import build_ext


class BuildExtAndInit(build_ext):
    """Build the cffi extension, then pyrunc-init and pyrunc-front next to it.

    pyrunc-init must be static: it is exec'd after pivot_root, where a
    dynamic loader would come from the container's own files.  pyrunc-front
    (the installed command) is static because it is started on every call:
    static, it starts in a fraction of a millisecond less.  pyrunc-init's
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
        for name in ("pyrunc_init", "pyrunc_front"):
            subprocess.check_call([os.environ.get("CC", "cc"), "-O2", "-Wall", "-Werror", "-static", "-s",
                                   "-I", abi_dir, "-o", os.path.join(out_dir, name.replace("_", "-")),
                                   f"csrc/{name}.c"])


setup(cffi_modules=["csrc/build_native.py:ffibuilder", "csrc/build_native.py:seccompbuilder"],
      cmdclass={"build_ext": BuildExtAndInit})
