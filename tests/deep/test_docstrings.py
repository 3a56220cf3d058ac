"""Public functions and classes of ``voxelomics.deep`` carry numpydoc docstrings."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re

import pytest

import voxelomics.deep


def _public():
    for info in pkgutil.iter_modules(voxelomics.deep.__path__, prefix="voxelomics.deep."):
        module = importlib.import_module(info.name)
        assert module.__doc__, f"{info.name} has no module docstring"
        for name in getattr(module, "__all__", []):
            obj = getattr(module, name)
            if inspect.isfunction(obj) or inspect.isclass(obj):
                yield f"{info.name}.{name}", obj


ITEMS = sorted(_public(), key=lambda kv: kv[0])


@pytest.mark.parametrize("obj", [o for _, o in ITEMS], ids=[k for k, _ in ITEMS])
def test_numpydoc(obj):
    doc = inspect.getdoc(obj)
    assert doc, "no docstring"
    summary = doc.splitlines()[0].strip()
    assert summary and summary[-1] in ".)", f"summary should be one sentence: {summary!r}"
    if inspect.isfunction(obj):
        params = [p for p in inspect.signature(obj).parameters if p not in ("self",)]
        if params:
            assert re.search(r"^Parameters\n-{4,}", doc, re.M), "no Parameters section"
            for p in params:
                if p.startswith("*"):
                    continue
                assert re.search(rf"^\**{p}\b|, {p}\b|^{p},", doc, re.M), f"parameter {p!r} not documented"
        ret = inspect.signature(obj).return_annotation
        if ret not in (inspect.Signature.empty, None, "None"):
            assert re.search(r"^(Returns|Yields)\n-{4,}", doc, re.M), "no Returns section"
