"""data/heldout_cpp.jsonl: the trainer's default held-out split in HumanEval-X's fields, byte-identical on
regeneration, the same tasks `cppforge train` scores before and after (so an eval on it speaks for a run)."""

from __future__ import annotations

from scripts.build_data import heldout_bytes
from services.tasks import held_out_tasks
from services.tasks.problems import load_problems
from services.tasks.sets import HELDOUT_COUNT, HELDOUT_CPP_FILE, HELDOUT_SEED
from services.trainer.config import TrainConfig


def test_regenerating_gives_the_committed_bytes() -> None:
    assert heldout_bytes() == HELDOUT_CPP_FILE.read_bytes(), "run: python scripts/build_data.py"


def test_it_is_the_trainers_default_heldout_split() -> None:
    cfg = TrainConfig()
    assert (cfg.heldout_tasks, cfg.heldout_seed) == (HELDOUT_COUNT, HELDOUT_SEED)
    problems = load_problems(HELDOUT_CPP_FILE)
    tasks = held_out_tasks(HELDOUT_COUNT, HELDOUT_SEED)
    assert [p.task_id for p in problems] == [t.task_id for t in tasks]
    assert all(p.format == "humaneval-x" for p in problems)
    assert [p.prompt for p in problems] == [t.prompt for t in tasks]
