"""The official SWAHR code for the opt-in parity tests: where it is, and its files loaded by path.

``SWAHR_OFFICIAL_REPO`` points to a checkout of greatlog/SWAHR-HumanPose (or the ``.official``
copy scripts/gpu_prepare.sh stages); without it the tests that use this module skip.  Files are
loaded one by one under names of our choosing, so the official package names (``core``,
``utils``...) never enter ``sys.modules``.
"""

import importlib.util
import os
from pathlib import Path

import pytest

REPO = os.environ.get("SWAHR_OFFICIAL_REPO")
requires_official = pytest.mark.skipif(not REPO,
                                       reason="set SWAHR_OFFICIAL_REPO to an official checkout")


def load_official(relative: str, name: str):
    """The official file ``relative`` (e.g. "lib/core/group.py") as a module called ``name``."""
    spec = importlib.util.spec_from_file_location(name, Path(REPO) / relative)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
