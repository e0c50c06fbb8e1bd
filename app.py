"""Fine-Tuning Lab: `python app.py [--host H] [--port P] [--share] [--space-mode]`."""

import argparse
import os

from ft_core.ui import build_app
from ft_core.ui.app import launch_kwargs


def main() -> None:
    parser = argparse.ArgumentParser(description="Fine-Tuning Lab web app")
    parser.add_argument("--host", default=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("GRADIO_SERVER_PORT",
                                                                       7860)))
    parser.add_argument("--share", action="store_true", help="create a public gradio link")
    parser.add_argument("--runs-dir", default=os.environ.get("FT_LAB_RUNS", "runs"))
    parser.add_argument("--space-mode", action="store_true",
                        help="shared-demo limits and isolation (on by itself in a Space)")
    args = parser.parse_args()
    space_mode = args.space_mode or bool(os.environ.get("SPACE_ID"))
    demo = build_app(runs_dir=args.runs_dir, space_mode=space_mode)
    space = demo.ft_context.space_settings
    if space.enabled:  # training subprocesses read the same limits from the environment
        os.environ.update(space.to_env())
    demo.queue(default_concurrency_limit=8).launch(
        server_name=args.host, server_port=args.port, share=args.share,
        **launch_kwargs(space))


if __name__ == "__main__":
    main()
