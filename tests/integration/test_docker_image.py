"""The docker image, built and run without a Docker engine (none runs on the CI machines).

`docker build` cannot run here, so this test does what the Dockerfile says with the same inputs:
it stages the build context by `.dockerignore`, builds the project wheel from it as the build
stage does (`pip wheel .`; the third-party wheels come from constraints.txt, which CI installs
anyway), installs that wheel into a fresh environment that cannot see the source tree, lays out
`/app` from the final stage's COPY lines, sets the final stage's ENV, and runs the image's own
entrypoint (`docker/prestart.sh`). Then the running app must answer health, readiness, a cited
chat answer, the web chat and console pages and /metrics, and must have written nothing into the
installed environment: the image's unprivileged user could not (the test itself cannot drop to
another user here: the interpreter lives under /root, which only root may enter).

It catches what an image build would: a package or data file missing from the wheel, code that
reads files from the repository instead of its package, a write into site-packages, an entrypoint
that does not start. The Dockerfile itself is
checked for the rules issue 10 sets: several stages, no compiler in the final one, a non-root
user, a healthcheck.
"""
from __future__ import annotations

import fnmatch
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import sysconfig
import time
import urllib.error
import urllib.request
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench._server import free_port

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "docker" / "Dockerfile"


def stages(dockerfile: Path) -> list[list[tuple[str, str]]]:
    """The Dockerfile's instructions per stage, as (INSTRUCTION, arguments); continuation lines joined."""
    text = re.sub(r"\\\n", " ", dockerfile.read_text(encoding="utf-8"))
    out: list[list[tuple[str, str]]] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        word, _, rest = line.partition(" ")
        if word.upper() == "FROM":
            out.append([])
        out[-1].append((word.upper(), rest.strip()))
    return out


def test_dockerfile_is_multi_stage_non_root_without_compilers_with_healthcheck() -> None:
    build, *_, final = stages(DOCKERFILE)
    assert len(stages(DOCKERFILE)) >= 2
    assert any(i == "RUN" and "build-essential" in a for i, a in build), "wheels are compiled in the build stage"
    final_runs = " ".join(a for i, a in final if i == "RUN")
    assert not re.search(r"build-essential|\bgcc\b|\bg\+\+|apt-get install", final_runs)
    users = [a for i, a in final if i == "USER"]
    assert users and users[-1] not in ("root", "0"), "the app must not run as root"
    assert any(i == "HEALTHCHECK" and "/healthz" in a for i, a in final)
    assert any(i == "COPY" and "--from=build" in a for i, a in final)


# ---------------------------------------------------------------- the context, as docker sees it


def dockerignore_rules(root: Path) -> list[tuple[bool, str]]:
    rules = []
    for line in (root / ".dockerignore").read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            rules.append((line.startswith("!"), line.lstrip("!").strip("/")))
    return rules


def ignored(rel: str, rules: list[tuple[bool, str]]) -> bool:
    """Docker's rule: the last matching pattern wins; `**/` also matches no directory at all."""
    verdict = False
    for negate, pattern in rules:
        candidates = [pattern, pattern[3:]] if pattern.startswith("**/") else [pattern]
        if any(fnmatch.fnmatchcase(rel, p) for p in candidates):
            verdict = not negate
    return verdict


def stage_context(root: Path, dest: Path) -> None:
    rules = dockerignore_rules(root)
    for dirpath, dirnames, filenames in os.walk(root):
        rel_dir = Path(dirpath).relative_to(root)
        dirnames[:] = [d for d in dirnames if not ignored((rel_dir / d).as_posix(), rules)]
        for name in filenames:
            rel = (rel_dir / name).as_posix()
            if not ignored(rel, rules):
                (dest / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(root / rel, dest / rel)


def test_dockerignore_keeps_local_state_and_tests_out() -> None:
    rules = dockerignore_rules(ROOT)
    for path in (".venv", "var", "tests", ".git", ".env", "bot/__pycache__", "x/y/__pycache__"):
        assert ignored(path, rules), path
    for path in ("pyproject.toml", "constraints.txt", "README.md", "bot", "knowledge", "console", ".env.example",
                 "alembic.ini", "docker/prestart.sh"):
        assert not ignored(path, rules), path


# ---------------------------------------------------------------- build and run


def final_env(final: list[tuple[str, str]]) -> dict[str, str]:
    env: dict[str, str] = {}
    for instruction, args in final:
        if instruction == "ENV":
            for pair in shlex.split(args):
                key, _, value = pair.partition("=")
                env[key] = value
    return env


def app_files(final: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """(source in the context, destination under WORKDIR) of the final stage's COPY lines from the context."""
    out = []
    for instruction, args in final:
        if instruction == "COPY" and "--from=" not in args:
            *sources, dest = [a for a in shlex.split(args) if not a.startswith("--")]
            out += [(src, dest) for src in sources]
    return out


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """The image's filesystem, emulated: an environment with the built wheel, and /app."""
    base = tmp_path_factory.mktemp("image")
    try:
        context = base / "context"
        context.mkdir()
        stage_context(ROOT, context)
        assert not (context / "tests").exists() and not (context / ".venv").exists()
        wheels = base / "wheels"
        subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                        "-w", str(wheels), str(context)], check=True, timeout=600,
                       env={**os.environ, "PIP_NO_INDEX": "1"})
        (wheel,) = wheels.glob("trolyhanhchinh-*.whl")

        # A fresh environment: the project only from the wheel; third-party packages from this test
        # run's environment, added as a plain path (so its editable install of the sources is not).
        venv = base / "venv"
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
        site = Path(subprocess.run([str(venv / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                   check=True, capture_output=True, text=True).stdout.strip())
        with zipfile.ZipFile(wheel) as zf:
            zf.extractall(site)
        (site / "zz_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")

        final = stages(DOCKERFILE)[-1]
        app = base / "app"
        app.mkdir()
        for src, dest in app_files(final):
            target = app / dest / Path(src).name if dest.endswith("/") else app / dest
            shutil.copy2(context / src, target)
        yield {"venv": venv, "site": site, "app": app, "env": final_env(final), "base": base}
    finally:
        shutil.rmtree(base, ignore_errors=True)


def get(url: str, timeout: float = 30) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def test_image_contents_start_and_answer_as_an_unprivileged_user(image: dict) -> None:
    app: Path = image["app"]
    var = Path(image["env"]["VAR_DIR"].replace("/app", str(app), 1))
    var.mkdir(parents=True)
    installed_before = sorted(p for p in image["venv"].rglob("*"))
    port = free_port()
    env = {
        "PATH": f"{image['venv'] / 'bin'}:/usr/bin:/bin", "HOME": str(app), "LANG": "C.UTF-8",
        **image["env"], "VAR_DIR": str(var),
        "SECRET_KEY": "s" * 32, "STAFF_API_TOKEN": "t" * 32, "WEBHOOK_HMAC_SECRET": "h" * 32,
        "HOST": "127.0.0.1", "PORT": str(port), "WEB_CONCURRENCY": "2",
        "PROMETHEUS_MULTIPROC_DIR": str(app / "prometheus"), "METRICS_TOKEN": "m" * 32,
    }
    assert env["ENV"] == "production"
    log = (app.parent / "server.log").open("wb")
    proc = subprocess.Popen(["sh", "./prestart.sh"], cwd=app, env=env, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None:
                pytest.fail("the entrypoint exited:\n" + (app.parent / "server.log").read_text(errors="replace")[-4000:])
            try:
                if get(url + "/healthz", timeout=2)[0] == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("the app did not come up:\n" + (app.parent / "server.log").read_text(errors="replace")[-4000:])
            time.sleep(0.5)

        status, body = get(url + "/readyz")
        assert status == 200, body
        # Production REST chat needs an integration's key, made with the image's own CLI.
        made = subprocess.run([str(image["venv"] / "bin" / "python"), "-m", "bot", "admin", "create-api-client",
                               "--id", "image-test", "--name", "kiểm thử"], cwd=app, env=env,
                              capture_output=True, text=True, timeout=120, check=False)
        assert made.returncode == 0, made.stderr[-2000:]
        key = made.stdout.strip().splitlines()[-1]
        req = urllib.request.Request(url + "/api/v1/chat", json.dumps(
            {"user_id": "image-test", "text": "đăng ký khai sinh cần giấy tờ gì", "channel": "api"}).encode(),
            {"Content-Type": "application/json", "Authorization": f"Bearer {key}"})
        with urllib.request.urlopen(req, timeout=60) as r:
            answer = json.loads(r.read())
        assert answer["answered"] and answer["citations"], answer
        for page in ("/", "/console/login"):
            status, body = get(url + page)
            assert status == 200 and b"<html" in body.lower(), page
        assert get(url + "/metrics")[0] == 404  # production: only for the scraper's token
        scrape = urllib.request.Request(url + "/metrics", headers={"Authorization": "Bearer " + "m" * 32})
        with urllib.request.urlopen(scrape, timeout=30) as r:
            assert r.status == 200 and b"http_requests_total" in r.read()
        assert (var / "app.db").exists(), "the embedded database lives in VAR_DIR, the image's volume"
        assert (var / "chroma").is_dir(), "the dense index (built from the vectors the wheel ships) too"
        assert sorted(p for p in image["venv"].rglob("*")) == installed_before, \
            "nothing may be written into the installed environment (the image's user cannot)"
    finally:
        os.killpg(proc.pid, 15)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
            proc.wait(5)
        log.close()


def test_compose_runs_every_service_with_a_healthcheck_and_the_same_settings() -> None:
    import yaml

    compose = yaml.safe_load((ROOT / "docker" / "compose.yml").read_text(encoding="utf-8"))
    services = compose["services"]
    assert {"app", "worker", "db", "redis", "chroma"} <= set(services)
    for name, service in services.items():
        built_here = "build" in service
        # Our image's own HEALTHCHECK probes the HTTP port: right for the app, wrong for the worker.
        has_check = "healthcheck" in service or (built_here and "command" not in service)
        assert has_check, f"{name} has no healthcheck"
    assert {"DATABASE_URL", "REDIS_URL", "CHROMA_HOST"} <= set(services["app"]["environment"])
    assert services["worker"]["command"][-1] == "pakn.worker"
    for name in ("app", "db", "redis", "chroma"):
        assert services[name].get("volumes"), f"{name} keeps its data in a volume"
    assert any(v.endswith(":/app/var") for v in services["app"]["volumes"])
    assert all(dep.get("condition") == "service_healthy" for dep in services["app"]["depends_on"].values())
