"""The seeded generator of small, compilable, tested C++ functions (the bootstrap model's corpus)."""

from .generate import generate_task, generate_tasks, held_out_tasks, training_text
from .registry import FAMILIES

__all__ = ["FAMILIES", "generate_task", "generate_tasks", "held_out_tasks", "training_text"]
