"""Build of voxelomics' compiled texture kernels (everything else is in pyproject.toml).

``pip install -e .`` (``make install``) compiles ``src/voxelomics/features/_kernels.pyx``
with Cython and the system C compiler; no other step is needed. The kernels use typed
memoryviews only, so numpy is not needed at build time.
"""

from Cython.Build import cythonize
from setuptools import Extension, setup

setup(
    ext_modules=cythonize(
        [Extension("voxelomics.features._kernels", ["src/voxelomics/features/_kernels.pyx"],
                   extra_compile_args=["-O3"])],
        compiler_directives={"language_level": 3},
    ),
)
