"""binder/ is what repo2docker reads, and the image it describes installs streamnb.

``repo2docker --no-build --debug`` prints the generated Dockerfile without Docker: a cheap
check, run in CI, that Binder would pick Python 3.11 and install the package.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BINDER = ROOT / "binder"


def test_binder_files() -> None:
    assert (BINDER / "runtime.txt").read_text().strip() == "python-3.11"
    requirements = [line.strip() for line in (BINDER / "requirements.txt").read_text().splitlines()
                    if line.strip() and not line.startswith("#")]
    assert requirements == ["-e ."], "binder/requirements.txt must install the package itself"


def test_repo2docker_dockerfile_installs_the_package() -> None:
    pytest.importorskip("repo2docker", reason="pip install jupyter-repo2docker (test extra)")
    result = subprocess.run([sys.executable, "-m", "repo2docker", "--no-build", "--debug", "."],
                            cwd=ROOT, capture_output=True, text=True, timeout=120)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    assert "Building conda environment for python=3.11" in output
    install = output.find('pip install --no-cache-dir -r "binder/requirements.txt"')
    copy_repo = output.find("COPY --chown=0:0 src/ ${REPO_DIR}/")
    assert install != -1, "the Dockerfile does not install binder/requirements.txt"
    workdir = output.find("WORKDIR ${REPO_DIR}")
    assert workdir != -1 and workdir < install, "pip must run from the repository root"
    assert copy_repo != -1 and copy_repo < install, (
        "the repository must be copied in before pip runs, or '-e .' has nothing to install")
