"""``python -m ft_core ...`` (and ``accelerate launch -m ft_core ...``)."""

import sys

from .cli import main

sys.exit(main())
