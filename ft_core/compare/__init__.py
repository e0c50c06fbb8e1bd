"""Compare two models side by side: base vs fine-tuned, or any two.

pair.py      choose and load the two sides (a LoRA run shares one model, adapter off/on)
classify.py  one input and whole-split metrics, confusion matrices, disagreements
lm.py        lockstep generation, held-out loss/perplexity, next-token distributions
report.py    Markdown + CSV export into runs/<id>/compare/
"""

from .classify import (
                       OUTCOMES,
                       ClassificationResult,
                       EvalSet,
                       Settings,
                       compare_classification,
                       disagreements,
                       eval_set_from_file,
                       eval_set_from_run,
                       predict_one,
                       predict_probs,
                       summarize,
)
from .lm import (
                       LMRows,
                       compare_loss,
                       compare_next_token,
                       generate_pair,
                       lm_rows_from_file,
                       lm_rows_from_run,
)
from .pair import (
                       ComparePair,
                       Side,
                       comparable_runs,
                       describe,
                       open_model_pair,
                       open_pair,
                       open_run_pair,
)
from .report import export_classification, export_lm, report_dir

__all__ = ["OUTCOMES", "ClassificationResult", "EvalSet", "Settings", "compare_classification",
           "disagreements", "eval_set_from_file", "eval_set_from_run", "predict_one",
           "predict_probs", "summarize", "LMRows", "compare_loss", "compare_next_token",
           "generate_pair", "lm_rows_from_file", "lm_rows_from_run", "ComparePair", "Side",
           "comparable_runs", "describe", "open_model_pair", "open_pair", "open_run_pair",
           "export_classification", "export_lm", "report_dir"]
