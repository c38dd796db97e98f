"""The `lplb` console script runs the packaged command-line tool."""

from __future__ import annotations

import subprocess
import sys

import pytest

from lplb import _cli


def test_console_script_runs_the_packaged_tool_or_explains():
    cmd = [sys.executable, "-m", "lplb._cli", "--version"]
    out = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if not _cli.binary().is_file():
        assert out.returncode == 1 and "built without the command-line tool" in out.stderr
        pytest.skip("this build has no packaged lplb tool")
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("lplb ") and "commit" in out.stdout and "CUDA" in out.stdout
