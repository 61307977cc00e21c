"""Run a suite on every backend: a test (or a fixture it uses) that asks for ``backend`` runs
once on "local" and once on "aws" (DynamoDB + S3 on moto's server over HTTP, marked slow),
unless it is marked ``local_only("why")``: a test that is local by nature (it reads the
in-memory fakes or the SQLite file) says so, and keeps only its local case.

A conftest opts its tier in with ``pytest_generate_tests = parametrize_backend``; a tier whose
module-scoped fixtures ask for ``backend`` uses ``parametrize_backend_per_module`` (the local
cases of a module run first, then the aws ones, so one world of each is alive at a time)."""

from __future__ import annotations

from typing import Literal

import pytest

LOCAL, AWS = "local", "aws"


def parametrize_backend(
    metafunc: pytest.Metafunc, scope: Literal["function", "module"] = "function"
) -> None:
    if "backend" not in metafunc.fixturenames:
        return
    marker = metafunc.definition.get_closest_marker("local_only")
    if marker is not None:
        assert marker.args and marker.args[0], "local_only needs a reason"
        metafunc.parametrize("backend", [LOCAL], scope=scope)
        return
    metafunc.parametrize("backend", [LOCAL, pytest.param(AWS, marks=pytest.mark.slow)], scope=scope)


def parametrize_backend_per_module(metafunc: pytest.Metafunc) -> None:
    parametrize_backend(metafunc, scope="module")
