"""Export a comparison as Markdown (for a model card or a talk) and CSV (for a notebook).

Files go to ``runs/<id>/compare/`` when a run is involved, else ``<runs_dir>/_compare/``;
names carry a timestamp so exports never overwrite each other.
"""

from __future__ import annotations

import time
from pathlib import Path

import pandas as pd

from ..errors import UserError
from .classify import ClassificationResult
from .lm import LossResult, NextTokenResult


def report_dir(run_dir: str | Path | None, runs_dir: str | Path) -> Path:
    return Path(run_dir) / "compare" if run_dir else Path(runs_dir) / "_compare"


def md_table(df: pd.DataFrame, digits: int = 4) -> str:
    """A GitHub Markdown table (no extra dependency)."""
    def cell(v) -> str:
        if isinstance(v, float):
            return f"{v:.{digits}f}"
        return str(v).replace("|", "\\|").replace("\n", " ")
    head = "| " + " | ".join(map(str, df.columns)) + " |"
    rule = "|" + "---|" * len(df.columns)
    body = ["| " + " | ".join(cell(v) for v in row) + " |" for row in df.itertuples(False)]
    return "\n".join([head, rule, *body])


def _settings_md(settings: dict) -> str:
    return "\n".join(f"- **{k}**: {v}" for k, v in settings.items())


def _write(out_dir: Path, stem: str, files: dict[str, str | pd.DataFrame]) -> list[Path]:
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        paths = []
        for suffix, content in files.items():
            path = out_dir / f"{stem}{suffix}"
            if isinstance(content, pd.DataFrame):
                content.to_csv(path, index=False)
            else:
                path.write_text(content, encoding="utf-8")
            paths.append(path)
        return paths
    except OSError as exc:
        raise UserError(f"Could not write the report into {out_dir}: "
                        f"{exc.strerror or exc}.", hint="Check the disk space.") from None


def _stamp() -> str:
    return time.strftime("%Y%m%d-%H%M%S")


def export_classification(result: ClassificationResult, out_dir: str | Path) -> list[Path]:
    """<stamp>-classification.md, -metrics.csv and -rows.csv (every row's predictions)."""
    labels = result.labels
    cm = []
    for name, matrix in (("left", result.confusion_left), ("right", result.confusion_right)):
        df = pd.DataFrame(matrix, columns=[f"pred {x}" for x in labels])
        df.insert(0, "true", labels)
        cm.append(f"**{name}**\n\n{md_table(df)}")
    fixed = int((result.rows["outcome"] == "fixed").sum())
    broken = int((result.rows["outcome"] == "broken").sum())
    md = "\n\n".join([
        "# Comparison: classification",
        f"- **left**: {result.left_name}\n- **right**: {result.right_name}\n"
        + _settings_md(result.settings),
        "## Metrics", md_table(result.overall),
        "## Per class", md_table(result.per_class),
        "## Confusion matrices (rows: true label)", *cm,
        f"## Disagreements\n\n{fixed} rows fixed by fine-tuning, {broken} broken, "
        f"{len(result.disagreements('both_wrong'))} changed but still wrong "
        f"(of {len(result.rows)}).",
        md_table(result.disagreements("all").head(20)),
        *(["## Notes", "\n".join(f"- {n}" for n in result.notes)] if result.notes else []),
    ]) + "\n"
    metrics = pd.concat([result.overall.assign(scope="overall"),
                         result.per_class.assign(scope="per class")], ignore_index=True)
    return _write(Path(out_dir), f"{_stamp()}-classification",
                  {".md": md, "-metrics.csv": metrics, "-rows.csv": result.rows})


def export_lm(out_dir: str | Path, names: tuple[str, str], settings: dict,
              samples: list[dict] | None = None, loss: LossResult | None = None,
              next_token: NextTokenResult | None = None, notes: list[str] | None = None
              ) -> list[Path]:
    """<stamp>-causal-lm.md plus -samples.csv, -loss.csv / -next-token.csv when present."""
    if not (samples or loss or next_token):
        raise UserError("Nothing to export yet.",
                        hint="Generate a sample, compute the loss or the next-token "
                             "distribution first.")
    parts = ["# Comparison: causal language model",
             f"- **left**: {names[0]}\n- **right**: {names[1]}\n" + _settings_md(settings)]
    files: dict[str, str | pd.DataFrame] = {}
    if loss is not None:
        parts += ["## Held-out loss", f"Data: {loss.source}", md_table(loss.table),
                  *[f"- {n}" for n in loss.notes]]
        files["-loss.csv"] = loss.table
        files["-loss-rows.csv"] = loss.per_row
    if next_token is not None:
        parts += ["## Next-token distribution",
                  f"KL(right || left) = {next_token.kl_right_left:.4f} nats, "
                  f"KL(left || right) = {next_token.kl_left_right:.4f} nats",
                  md_table(next_token.top), "### Tokens whose rank moved most",
                  md_table(next_token.movers)]
        files["-next-token.csv"] = next_token.top
    if samples:
        parts.append("## Generated samples")
        for s in samples:
            parts.append(f"**Prompt:** {s['prompt']}\n\n_{s.get('settings', '')}_\n\n"
                         f"**Left:** {s['left']}\n\n**Right:** {s['right']}")
        files["-samples.csv"] = pd.DataFrame(samples)
    if notes:
        parts += ["## Notes", "\n".join(f"- {n}" for n in notes)]
    files = {".md": "\n\n".join(parts) + "\n", **files}
    return _write(Path(out_dir), f"{_stamp()}-causal-lm", files)
