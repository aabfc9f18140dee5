"""The trainer service with the stand-in trainer, as its own process (to be killed by a test):

python tests/trainer/serve_fake.py JOBS_DIR PORT STEP_S
"""

from __future__ import annotations

import sys
from pathlib import Path

import uvicorn

from services.common.settings import TrainerServiceSettings
from services.trainer.app import create_app


def main() -> None:
    jobs_dir, port, step_s = Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    command = [sys.executable, str(Path(__file__).with_name("fake_train.py")), "--step-s", step_s]
    settings = TrainerServiceSettings(jobs_dir=jobs_dir, api_keys=None, cancel_grace_s=2.0)
    uvicorn.run(create_app(settings, command=command), host="127.0.0.1", port=port, log_level="warning")


if __name__ == "__main__":
    main()
