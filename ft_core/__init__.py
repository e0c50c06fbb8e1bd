"""Fine-Tuning Lab core: data, models, training, search, comparison and generation.

Nothing here imports gradio (that lives in ft_core.ui) and nothing loads a model at import.
"""

__version__ = "0.1.0"
