"""Build the optional compiled LD-pruning kernel; everything else is configured in pyproject.toml.

The extension is optional: where it cannot be compiled, genoml_search.data.ld falls back to its numpy path,
which gives the same kept variants, only slower.
"""
from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "genoml_search.data._ldkernel",
            ["genoml_search/data/_ldkernel.c"],
            extra_compile_args=["-O3"],
            optional=True,
        )
    ]
)
