"""Build the Lambda artifact: runtime dependencies, the app's packages, the playground
assets and bytecode compiled for the function's Python, in one folder and one zip.

    python -m scripts.package_lambda [--output build/lambda] [--zip build/lambda.zip]
                                     [--arch arm64] [--compile-python PATH]

`sam build` calls it through infra/function/Makefile (``BuildMethod: makefile``); its own
Python builder would drop every ``__pycache__``, ``*.pyc`` and ``*.so`` it copies.

- Dependencies are requirements/runtime.lock (scripts/dependency_lock.py): the ``[project]
  dependencies`` of pyproject.toml minus what only the local server needs (uvicorn,
  websockets), pinned with hashes, installed by pip ``--require-hashes`` as wheels for the
  function's platform (``--platform manylinux…_aarch64 --only-binary=:all: --python-version
  3.12``): no compiler, no Docker, works from any OS, and a rebuild of a commit (a rollback)
  ships the very same wheels. A lock made from other requirements than pyproject.toml's
  stops the build. ``--find-links DIR --no-index`` builds from a wheelhouse without PyPI.
- Lambda's code directory is read-only, so a package without bytecode recompiles every
  module on every cold start (measured: 1185 ms instead of 376 ms for the web stack).
  compileall runs with a 3.12 interpreter (the magic number must match the runtime), with
  ``unchecked-hash`` pycs, so extraction timestamps never invalidate them, and with paths
  rewritten to /var/task so tracebacks name the files Lambda has.
- The zip is reproducible: sorted entries, fixed timestamps and modes.
- The report (stdout and ``<output>.manifest.json``) gives sizes against Lambda's limits
  and fails the build over the budget.
"""

from __future__ import annotations

import argparse
import glob
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from scripts.dependency_lock import RUNTIME_LOCK, LockError, drift, normalize

REPO_ROOT = Path(__file__).resolve().parent.parent

# The function's runtime. infra/template.yaml says the same; tests/infra checks they agree.
PYTHON_VERSION = "3.12"
RUNTIME = f"python{PYTHON_VERSION}"
HANDLER = "api.lambda_handler.handler"
# What the handler imports. ops/ ships for the restore drill (ops/backup, run by the
# scheduled DrillFunction); scripts/ run on a laptop or in CI, never in the function.
APP_PACKAGES = ("api", "resolvers", "domain", "adapters", "ops")
# The persisted-operation allow-list, at the package root (LAMBDA_TASK_ROOT, /var/task).
PERSISTED_OPERATIONS_NAME = "persisted-operations.json"
# Lambda's Python 3.12+ runtimes run on Amazon Linux 2023 (glibc 2.34); best tag first.
_GLIBC_TAGS = ("manylinux_2_34", "manylinux_2_28", "manylinux_2_17", "manylinux2014")
ARCHITECTURES = {"arm64": "aarch64", "x86_64": "x86_64"}
LAMBDA_ROOT = "/var/task"

# Lambda's limits: 250 MB unzipped (function and layers), 50 MB for a zip uploaded directly
# (sam deploy goes through S3, where only the unzipped limit applies).
LAMBDA_UNZIPPED_LIMIT = 250 * 1024 * 1024
LAMBDA_DIRECT_ZIP_LIMIT = 50 * 1024 * 1024
# "Kept well under": the build fails past these, long before Lambda would refuse it.
DEFAULT_UNZIPPED_BUDGET_MB = 150
DEFAULT_ZIPPED_BUDGET_MB = 40

GRAPHIQL_DIR = Path("api") / "static" / "vendor" / "graphiql"
# Noise in installed distributions: never imported at run time.
# (Only "tests": a package named "test" or "testing" may be imported, e.g. strawberry.test.)
_PRUNED_DIRS = frozenset({"__pycache__", "tests"})
_PRUNED_SUFFIXES = (".pyc", ".pyo", ".pyi", ".pyx", ".pxd", ".c", ".h", ".cpp")
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)


class PackagingError(Exception):
    """The artifact cannot be built as asked; the message says why in one line."""


@dataclass(frozen=True)
class Report:
    runtime: str
    architecture: str
    platforms: list[str]
    bytecode: bool
    compile_python: str | None
    playground_assets: bool
    dependencies: dict[str, str]
    files: int
    unzipped_bytes: int
    zipped_bytes: int
    zip_sha256: str
    unzipped_limit_bytes: int = LAMBDA_UNZIPPED_LIMIT
    direct_zip_limit_bytes: int = LAMBDA_DIRECT_ZIP_LIMIT

    def lines(self) -> list[str]:
        mib = 1024 * 1024
        share = 100 * self.unzipped_bytes / self.unzipped_limit_bytes
        return [
            f"runtime {self.runtime} ({self.architecture}), {len(self.dependencies)} "
            f"distributions, {self.files} files, bytecode "
            f"{'yes (' + str(self.compile_python) + ')' if self.bytecode else 'NO'}, "
            f"playground assets {'yes' if self.playground_assets else 'NO (CDN fallback)'}",
            f"unzipped {self.unzipped_bytes / mib:.1f} MiB of Lambda's 250 MiB ({share:.0f}%)",
            f"zipped   {self.zipped_bytes / mib:.1f} MiB (direct upload limit 50 MiB; "
            f"sam deploy uploads through S3) sha256 {self.zip_sha256}",
        ]


def check_lock(lock: Path) -> None:
    """Refuse a lock made from other requirements than pyproject.toml's: the artifact would
    not ship what the project declares."""
    try:
        problem = drift(lock)
    except LockError as exc:
        raise PackagingError(str(exc)) from None
    if problem is not None:
        raise PackagingError(problem)


def platform_tags(architecture: str) -> list[str]:
    try:
        machine = ARCHITECTURES[architecture]
    except KeyError:
        raise PackagingError(
            f"unknown architecture {architecture!r}; one of {sorted(ARCHITECTURES)}"
        ) from None
    return [f"{tag}_{machine}" for tag in _GLIBC_TAGS]


def pip_install_command(
    target: Path,
    lock: Path,
    architecture: str,
    *,
    python_version: str = PYTHON_VERSION,
    find_links: Sequence[str] = (),
    no_index: bool = False,
    constraints: Path | None = None,
) -> list[str]:
    command = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--no-input",
        "--no-compile",  # the running Python's bytecode would be the wrong version
        "--target",
        str(target),
        "--implementation",
        "cp",
        "--python-version",
        python_version,
        "--only-binary=:all:",
        # Every distribution pinned and checked against the lock's sha256s: no resolution
        # against whatever the index holds today.
        "--require-hashes",
    ]
    for tag in platform_tags(architecture):
        command += ["--platform", tag]
    for link in find_links:
        command += ["--find-links", link]
    if no_index:
        command.append("--no-index")
    if constraints is not None:
        command += ["--constraint", str(constraints)]
    return [*command, "--requirement", str(lock)]


def find_compile_python(explicit: str | None, version: str = PYTHON_VERSION) -> str | None:
    """An interpreter of exactly ``version`` to compile with: the one given, else
    ``python3.12`` on PATH, else a pyenv install; None when there is none."""
    candidates: list[str] = []
    if explicit:
        candidates.append(explicit)
    else:
        on_path = shutil.which(f"python{version}")
        if on_path:
            candidates.append(on_path)
        pyenv_root = os.environ.get("PYENV_ROOT", str(Path.home() / ".pyenv"))
        candidates += sorted(
            glob.glob(os.path.join(pyenv_root, "versions", f"{version}.*", "bin", "python3")),
            reverse=True,
        )
    for candidate in candidates:
        if _python_version_of(candidate) == version:
            return candidate
    if explicit:
        raise PackagingError(f"--compile-python {explicit} is not a Python {version}")
    return None


def _python_version_of(interpreter: str) -> str | None:
    try:
        completed = subprocess.run(  # noqa: S603 - an interpreter path, no shell
            [interpreter, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return completed.stdout.strip() if completed.returncode == 0 else None


def copy_app(output: Path, source_root: Path = REPO_ROOT) -> None:
    for package in APP_PACKAGES:
        source = source_root / package
        if not (source / "__init__.py").is_file():
            raise PackagingError(f"{source} is not a package")
        shutil.copytree(
            source,
            output / package,
            ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.pyo", ".*"),
        )


def check_persisted_operations(path: Path) -> None:
    """Refuse to package an allow-list the function would refuse at start-up."""
    from api.persisted_operations import load_persisted_operations
    from api.setting_errors import SettingsError

    try:
        load_persisted_operations(path)
    except SettingsError as exc:
        raise PackagingError(f"--persisted-operations: {exc}") from None


def check_assets(output: Path, *, allow_missing: bool) -> bool:
    """Whether the copied package carries the self-hosted GraphiQL files, as the app
    itself would judge them (api.graphiql_assets); refuse to build without them unless
    allowed (then the playground loads them from the public CDN)."""
    from api.graphiql_assets import assets_installed, cdn_assets

    present = assets_installed(output / GRAPHIQL_DIR, cdn_assets(), verify_hashes=True)
    if not present and not allow_missing:
        raise PackagingError(
            f"the playground assets are missing from {GRAPHIQL_DIR} (run `make assets`), "
            "or pass --allow-cdn-playground"
        )
    return present


def prune(root: Path) -> None:
    """Drop what no import needs: caches, test suites, type stubs, C sources, scripts."""
    shutil.rmtree(root / "bin", ignore_errors=True)
    for directory, dirnames, filenames in os.walk(root, topdown=True):
        here = Path(directory)
        for name in list(dirnames):
            if name in _PRUNED_DIRS:
                shutil.rmtree(here / name)
                dirnames.remove(name)
        for name in filenames:
            if name.endswith(_PRUNED_SUFFIXES):
                (here / name).unlink()


def compile_bytecode(root: Path, interpreter: str) -> None:
    completed = subprocess.run(  # noqa: S603 - an interpreter path, no shell
        [
            interpreter,
            "-m",
            "compileall",
            "-q",
            "-j0",
            "--invalidation-mode",
            "unchecked-hash",
            "-s",
            str(root),
            "-p",
            LAMBDA_ROOT,
            str(root),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if completed.returncode != 0:
        detail = (completed.stdout + completed.stderr).strip().splitlines()
        raise PackagingError(
            "compileall failed: " + (detail[-1] if detail else f"exit {completed.returncode}")
        )


def installed_distributions(root: Path) -> dict[str, str]:
    found: dict[str, str] = {}
    for info in sorted(root.glob("*.dist-info")):
        name, _, version = info.name.removesuffix(".dist-info").rpartition("-")
        found[normalize(name)] = version
    return found


def tree_size(root: Path) -> tuple[int, int]:
    files = total = 0
    for path in _files(root):
        files += 1
        total += path.stat().st_size
    return files, total


def write_zip(root: Path, destination: Path) -> str:
    """A reproducible zip of ``root``: same inputs, same bytes. Returns its sha256."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    partial = destination.with_name(destination.name + ".partial")
    with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for path in _files(root):
            info = zipfile.ZipInfo(path.relative_to(root).as_posix(), date_time=_ZIP_EPOCH)
            info.external_attr = 0o100644 << 16
            info.create_system = 3  # unix, so the mode above is honoured
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes())
    partial.replace(destination)
    return hashlib.sha256(destination.read_bytes()).hexdigest()


def _files(root: Path) -> Iterable[Path]:
    for directory, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames):
            yield Path(directory) / name


def build(
    output: Path,
    zip_path: Path | None,
    *,
    architecture: str = "arm64",
    compile_python: str | None = None,
    require_bytecode: bool = True,
    allow_missing_assets: bool = False,
    find_links: Sequence[str] = (),
    no_index: bool = False,
    constraints: Path | None = None,
    unzipped_budget_mb: float = DEFAULT_UNZIPPED_BUDGET_MB,
    zipped_budget_mb: float = DEFAULT_ZIPPED_BUDGET_MB,
    persisted_operations: Path | None = None,
    lock: Path = RUNTIME_LOCK,
) -> Report:
    check_lock(lock)
    if persisted_operations is not None:
        check_persisted_operations(persisted_operations)
    interpreter = find_compile_python(compile_python)
    if interpreter is None and require_bytecode:
        raise PackagingError(
            f"no Python {PYTHON_VERSION} to compile bytecode with: install one (pyenv, "
            f"actions/setup-python), pass --compile-python, or --no-bytecode to ship "
            "a slower-starting package"
        )
    platforms = platform_tags(architecture)
    # Build beside the output and swap at the end: a failed build leaves no half artifact.
    output = output.resolve()
    output.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{output.name}-", dir=output.parent))
    try:
        pip = pip_install_command(
            staging,
            lock,
            architecture,
            find_links=find_links,
            no_index=no_index,
            constraints=constraints,
        )
        completed = subprocess.run(pip, check=False)  # noqa: S603 - our own argv, no shell
        if completed.returncode != 0:
            raise PackagingError(f"pip install failed (exit {completed.returncode})")
        prune(staging)
        copy_app(staging)
        if persisted_operations is not None:
            shutil.copyfile(persisted_operations, staging / PERSISTED_OPERATIONS_NAME)
        assets = check_assets(staging, allow_missing=allow_missing_assets)
        if interpreter is not None:
            compile_bytecode(staging, interpreter)
        if output.exists():
            shutil.rmtree(output)
        staging.replace(output)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise

    files, unzipped = tree_size(output)
    with tempfile.TemporaryDirectory() as scratch:
        target = zip_path.resolve() if zip_path else Path(scratch) / "lambda.zip"
        digest = write_zip(output, target)
        zipped = target.stat().st_size
    report = Report(
        runtime=RUNTIME,
        architecture=architecture,
        platforms=platforms,
        bytecode=interpreter is not None,
        compile_python=interpreter,
        playground_assets=assets,
        dependencies=installed_distributions(output),
        files=files,
        unzipped_bytes=unzipped,
        zipped_bytes=zipped,
        zip_sha256=digest,
    )
    manifest = output.with_name(output.name + ".manifest.json")
    manifest.write_text(json.dumps(asdict(report), indent=2) + "\n", encoding="utf-8")
    mib = 1024 * 1024
    if unzipped > unzipped_budget_mb * mib:
        raise PackagingError(
            f"the package is {unzipped / mib:.1f} MiB unzipped, over the "
            f"{unzipped_budget_mb:g} MiB budget (Lambda refuses 250 MiB)"
        )
    if zipped > zipped_budget_mb * mib:
        raise PackagingError(
            f"the zip is {zipped / mib:.1f} MiB, over the {zipped_budget_mb:g} MiB budget"
        )
    return report


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m scripts.package_lambda",
        description="Build the Lambda artifact (a folder and a reproducible zip).",
    )
    parser.add_argument("--output", type=Path, default=REPO_ROOT / "build" / "lambda")
    parser.add_argument(
        "--zip", type=Path, default=None, help="also keep the zip here (default: size only)"
    )
    parser.add_argument("--arch", choices=sorted(ARCHITECTURES), default="arm64")
    parser.add_argument(
        "--compile-python",
        default=None,
        help=f"a Python {PYTHON_VERSION} for compileall (default: python{PYTHON_VERSION} "
        "on PATH, then pyenv)",
    )
    parser.add_argument(
        "--no-bytecode",
        action="store_true",
        help=f"build even without a Python {PYTHON_VERSION} (slower cold starts)",
    )
    parser.add_argument(
        "--allow-cdn-playground",
        action="store_true",
        help="build without the self-hosted GraphiQL files",
    )
    parser.add_argument("--find-links", action="append", default=[], metavar="DIR_OR_URL")
    parser.add_argument("--no-index", action="store_true", help="never ask PyPI")
    parser.add_argument("--constraint", type=Path, default=None, help="pip constraints file")
    parser.add_argument("--max-unzipped-mb", type=float, default=DEFAULT_UNZIPPED_BUDGET_MB)
    parser.add_argument("--max-zipped-mb", type=float, default=DEFAULT_ZIPPED_BUDGET_MB)
    parser.add_argument(
        "--persisted-operations",
        type=Path,
        default=None,
        metavar="FILE",
        help=f"ship this allow-list (scripts/persist_operations.py) as "
        f"{PERSISTED_OPERATIONS_NAME}; the template's PersistedOperations=true turns it on",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        report = build(
            args.output,
            args.zip,
            architecture=args.arch,
            compile_python=args.compile_python,
            require_bytecode=not args.no_bytecode,
            allow_missing_assets=args.allow_cdn_playground,
            find_links=args.find_links,
            no_index=args.no_index,
            constraints=args.constraint,
            unzipped_budget_mb=args.max_unzipped_mb,
            zipped_budget_mb=args.max_zipped_mb,
            persisted_operations=args.persisted_operations,
        )
    except PackagingError as exc:
        print(f"package_lambda: {exc}", file=sys.stderr)
        return 1
    for line in report.lines():
        print(f"package_lambda: {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
