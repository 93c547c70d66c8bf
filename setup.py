"""setuptools glue: cffi's cffi_modules (which pyproject.toml cannot declare), the static pyrunc-init and pyrunc-front."""
import os
import subprocess

from setuptools import setup
from setuptools.command.build_ext import build_ext


class BuildExtAndInit(build_ext):
    """Build the cffi extension, then pyrunc-init and pyrunc-front next to it.

    pyrunc-init must be static: it is exec'd after pivot_root, where a
    dynamic loader would come from the container's own files.  pyrunc-front
    (the installed command) is static because it is started on every call:
    static, it starts in a fraction of a millisecond less.
    """

    def run(self):
        super().run()
        out_dir = os.path.join("src" if self.inplace else self.build_lib, "pyrunc")
        os.makedirs(out_dir, exist_ok=True)
        for name in ("pyrunc_init", "pyrunc_front"):
            subprocess.check_call([os.environ.get("CC", "cc"), "-O2", "-Wall", "-Werror", "-static", "-s",
                                   "-o", os.path.join(out_dir, name.replace("_", "-")), f"csrc/{name}.c"])


setup(cffi_modules=["csrc/build_native.py:ffibuilder", "csrc/build_native.py:seccompbuilder"], cmdclass={"build_ext": BuildExtAndInit})
