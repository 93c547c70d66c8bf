"""setuptools glue: cffi's cffi_modules (which pyproject.toml cannot declare) and the static pyrunc-init."""
import os
import subprocess

from setuptools import setup
from setuptools.command.build_ext import build_ext


class BuildExtAndInit(build_ext):
    """Build the cffi extension, then pyrunc-init next to it.

    pyrunc-init must be static: it is exec'd after pivot_root, where a
    dynamic loader would come from the container's own files.
    """

    def run(self):
        super().run()
        out_dir = os.path.join("src" if self.inplace else self.build_lib, "pyrunc")
        os.makedirs(out_dir, exist_ok=True)
        subprocess.check_call([os.environ.get("CC", "cc"), "-O2", "-Wall", "-Werror", "-static", "-s",
                               "-o", os.path.join(out_dir, "pyrunc-init"), "csrc/pyrunc_init.c"])


setup(cffi_modules=["csrc/build_native.py:ffibuilder", "csrc/build_native.py:seccompbuilder"], cmdclass={"build_ext": BuildExtAndInit})
