"""The installed packages: every package of the tree is listed, and `complaintflow.client`
is importable as the issue and the README promise."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_every_package_in_the_tree_is_installed():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    found = {
        ".".join(init.parent.relative_to(ROOT).parts)
        for top in ("services", "schemas")
        for init in (ROOT / top).rglob("__init__.py")
    }
    assert set(config["packages"]) == found | {"complaintflow"}
    assert config["package-dir"] == {"complaintflow": "services/sdk"}


def test_the_client_is_importable_as_complaintflow_client():
    import inspect

    from complaintflow.client import ComplaintFlowClient, Submitted

    # One client module: the importable name is the SDK package itself, not a re-export.
    for cls in (ComplaintFlowClient, Submitted):
        assert Path(inspect.getfile(cls)) == ROOT / "services" / "sdk" / "client.py"
