"""Fault injection for tests/test_distributed.py, run in every Ray worker at start-up.

`install` is the cluster's `worker_process_setup_hook`. When the JSON file named by
$NEGSAMP_TEST_CRASH_PLAN exists ({"method", "sample_id", "marker"}), the first worker
about to generate the batch holding that sample creates the marker file (O_EXCL:
exactly one worker, once) and dies with os._exit, as a killed process would: no
exception, no cleanup, the rows it generated for earlier batches of its shard lost.
"""

from __future__ import annotations

import json
import os


def install() -> None:
    plan_path = os.environ.get("NEGSAMP_TEST_CRASH_PLAN")
    if not plan_path:
        return
    import negsamp.runner as runner

    original = runner.generate_missing

    def generate_missing(model, tokenizer, method, batch, pending_ids, **kwargs):
        if os.path.exists(plan_path):
            with open(plan_path, encoding="utf-8") as handle:
                plan = json.load(handle)
            if method.spec == plan["method"] and any(s.sample_id == plan["sample_id"] for s in batch):
                try:
                    fd = os.open(plan["marker"], os.O_CREAT | os.O_EXCL | os.O_WRONLY)
                except FileExistsError:
                    pass
                else:
                    os.write(fd, str(os.getpid()).encode())
                    os.close(fd)
                    os._exit(1)
        return original(model, tokenizer, method, batch, pending_ids, **kwargs)

    runner.generate_missing = generate_missing
