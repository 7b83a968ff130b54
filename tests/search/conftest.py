from __future__ import annotations

import pytest

from genoml_search.search import registry


@pytest.fixture
def clean_registry():
    """Restore the registry after a test that registers families."""
    registry.family_names()
    saved, loaded = dict(registry._REGISTRY), registry._loaded
    yield registry
    registry._REGISTRY.clear()
    registry._REGISTRY.update(saved)
    registry._loaded = loaded
