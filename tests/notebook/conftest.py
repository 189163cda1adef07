"""Fixtures for the notebook layer: one real IPython shell, reset between tests."""

from __future__ import annotations

import pytest


@pytest.fixture()
def ip():
    from IPython.testing.globalipapp import get_ipython

    from streamnb.notebook import _updater, apps

    shell = get_ipython()
    if "streamnb" not in shell.extension_manager.loaded:
        shell.run_line_magic("load_ext", "streamnb")
    apps.forget_all()
    yield shell
    _updater.stop_all()
    apps.forget_all()
    for name in [k for k in shell.user_ns if not k.startswith("_")]:
        if name not in ("In", "Out", "get_ipython", "exit", "quit"):
            shell.user_ns.pop(name, None)
