"""``python -m swahr_infer ...``: the ``swahr-infer`` command without an installed entry point
(e.g. a checkout on ``PYTHONPATH``, as on the GPU machine)."""

from .cli import main

raise SystemExit(main())
