"""The `lplb` console script: runs the command-line tool shipped in the
package (lplb/bin/lplb, built with the extension when CLI11, fmt and zlib
were installed at build time). docs/CLI.md describes the subcommands."""

from __future__ import annotations

import os
import sys
from pathlib import Path


def binary() -> Path:
    """Where the packaged `lplb` executable lives."""
    return Path(__file__).resolve().parent / "bin" / "lplb"


def main() -> int:
    exe = binary()
    if not exe.is_file():
        sys.stderr.write(
            "error: this lplb package was built without the command-line tool "
            "(CLI11, fmt and zlib were not found at build time); install them and "
            "reinstall, or build it with CMake (docs/CLI.md)\n"
        )
        return 1
    # exec: the tool's exit status, stdin/stdout and signals are the caller's own.
    os.execv(str(exe), [str(exe), *sys.argv[1:]])
    return 1  # not reached


if __name__ == "__main__":
    raise SystemExit(main())
