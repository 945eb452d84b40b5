from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

os.environ.setdefault("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "")
ROOT = Path(__file__).resolve().parents[1]


def run_cli(*args: str, timeout: float = 240, check: bool = False) -> subprocess.CompletedProcess[str]:
    """Run `lgs-crawl ARGS` as a user would, in a subprocess."""
    proc = subprocess.run([sys.executable, "-m", "lgs_crawl", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT)
    if check and proc.returncode != 0:
        raise AssertionError(f"exit {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}")
    return proc


@pytest.fixture
def cli():
    return run_cli
