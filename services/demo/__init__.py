"""The demo (`cppforge demo`, `make demo`): the whole post-training loop over real HTTP.

run.py starts the local stack and calls loop.run_loop, which drives the running services step by step
(steps.py: verify and best-of-4; training.py: the GSPO job; evaluation.py: pass@k and promotion),
printing progress (printing.py) and ending with the summary (summary.py, also out/demo/summary.json).
"""

from .loop import DemoFailed, DemoOptions, run_loop
from .run import run_demo
from .summary import DemoSummary

__all__ = ["DemoFailed", "DemoOptions", "DemoSummary", "run_demo", "run_loop"]
