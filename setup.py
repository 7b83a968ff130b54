"""Build the optional compiled kernels (LD pruning, QC counts); everything else is in pyproject.toml.

The extensions are optional: where they cannot be compiled, genoml_search.data.ld and genoml_search.data.qc
fall back to their numpy paths, which give the same results, only slower.
"""
from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "genoml_search.data._ldkernel",
            ["genoml_search/data/_ldkernel.c"],
            extra_compile_args=["-O3"],
            optional=True,
        ),
        Extension(
            "genoml_search.data._qckernel",
            ["genoml_search/data/_qckernel.c"],
            extra_compile_args=["-O3"],
            optional=True,
        ),
    ]
)
