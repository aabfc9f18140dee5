"""The jobs service running the real `cppforge train` (tiny budget): a job goes queued -> running ->
succeeded with metrics rows visible and the run's summary in its status."""

from __future__ import annotations

from pathlib import Path

import httpx

from services.common.settings import TrainerServiceSettings
from services.trainer.app import create_app
from tests.helpers.servers import serve
from tests.trainer.conftest import wait_for

TINY = {"steps": 2, "heldout_tasks": 2, "heldout_samples": 1, "group_size": 4, "prompts_per_step": 1,
        "max_gen_len": 48, "num_tasks": 40, "dapo_max_refills": 1}  # fmt: skip


def test_real_training_job(tmp_path: Path, base_model: Path) -> None:
    model = str(base_model)
    settings = TrainerServiceSettings(home=tmp_path, cancel_grace_s=5.0)
    with serve(create_app(settings)) as url, httpx.Client(base_url=url, timeout=30) as http:
        r = http.post("/v1/jobs", json={"recipe": "production", "overrides": TINY, "model": model})
        assert r.status_code == 202, r.text
        job_id = r.json()["id"]

        def finished() -> bool:
            return http.get(f"/v1/jobs/{job_id}").json()["status"] in ("succeeded", "failed", "cancelled")

        wait_for(finished, timeout_s=300, what="the training job to finish")
        job = http.get(f"/v1/jobs/{job_id}").json()
        assert job["status"] == "succeeded", job.get("error")
        assert job["step"] == 2
        assert job["summary"]["steps"] == 2 and job["summary"]["method"] == "gspo"
        assert Path(job["summary"]["adapter_dir"], "adapter_config.json").is_file()
        rows = http.get(f"/v1/jobs/{job_id}/metrics").json()["data"]
        assert [row["step"] for row in rows] == [1, 2]
        assert all(0.0 <= row["compile_rate"] <= 1.0 for row in rows)
