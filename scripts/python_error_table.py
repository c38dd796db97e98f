#!/usr/bin/env python3
"""Prints the Python rows of docs/RELIABILITY.md's bad-input matrix.

Runs every case of tests/python/test_errors.py with pytest.raises replaced
by a recorder and prints one Markdown row per distinct (test, input,
exception, message). Needs the lplb package importable.
"""

import contextlib
import inspect
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "python"))

import pytest  # noqa: E402

import lplb  # noqa: E402

rows = []
current = {"test": "", "case": ""}


@contextlib.contextmanager
def recorder(exc, match=None):
    """Stands in for pytest.raises: records what was raised, if anything."""
    try:
        yield
    except BaseException as e:  # noqa: BLE001
        rows.append((current["test"], current["case"], type(e).__name__, str(e).splitlines()[0]))
        return
    rows.append((current["test"], current["case"], "NO EXCEPTION", ""))


pytest.raises = recorder
import test_errors as T  # noqa: E402

T.pytest.raises = recorder


def short(value):
    r = re.sub(r" at 0x[0-9a-f]+", "", repr(value).replace("\n", " "))
    return r if len(r) <= 60 else r[:57] + "..."


def planner():
    return lplb.Planner(T.CUBE, 320, 256, 32)


for name, fn in inspect.getmembers(T, inspect.isfunction):
    if not name.startswith("test_"):
        continue
    params = inspect.signature(fn).parameters
    marks = [m for m in getattr(fn, "pytestmark", []) if m.name == "parametrize"]
    argnames, cases = (), [()]
    if marks:
        argnames = marks[0].args[0]
        if isinstance(argnames, str):
            argnames = tuple(a.strip() for a in argnames.split(","))
        cases = marks[0].args[1]
    for case in cases:
        case = case if isinstance(case, tuple) else (case,)
        kwargs = dict(zip(argnames, case))
        if "planner" in params:
            kwargs["planner"] = planner()
        current["test"] = name
        # The input only: drop the trailing (exception, match) pair.
        shown = case[: max(1, len(case) - 2)] if marks else ()
        current["case"] = ", ".join(short(c) for c in shown)
        try:
            fn(**kwargs)
        except Exception as e:  # noqa: BLE001 (an assert after the raises blocks)
            rows.append((name, current["case"], "HARNESS " + type(e).__name__, str(e)[:80]))

seen = set()
for test, case, exc, message in rows:
    if exc.startswith("HARNESS") or exc == "NO EXCEPTION":
        continue  # not a bad-input case (e.g. a test that checks acceptance)
    case = case.replace("|", "\\|")
    message = message.replace("|", "\\|")
    row = f"| `{test}` | `{case}` | {exc} | `{message}` |"
    if row not in seen:
        seen.add(row)
        print(row)
