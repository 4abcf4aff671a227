"""`negsamp build` without Ray and with `--ray` on local clusters of 1 and 2 worker slots, side by side.

Each build runs in a fresh driver process into a fresh output folder, so every
figure is measured in this run: wall time of the build (and, for Ray, of starting
the cluster, counted apart), the dataset's content hash (all must be equal), and
what the driver process holds when the build returns: its RSS and peak RSS, the
Prediction / Sample objects alive, whether any torch module is alive (a Ray driver
loads no model), and the object refs it still owns in the Ray object store.

    .venv/bin/python benchmarks/bench_ray_build.py [--recipe builders/tiny-cpu.yaml] [--work out/bench_ray]

A cluster of N slots is `ray.init(num_cpus=N)`: N tasks at a time, each a worker
process with one CPU (Ray sets OMP_NUM_THREADS=1 in it). The single-process build
uses torch's default threads. Ray's temp dir is a short folder under /tmp (unix
socket paths are limited to 107 bytes), removed afterwards.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def driver_memory() -> dict:
    """What this (driver) process holds now."""
    import gc
    import resource
    from collections import Counter

    import psutil

    from negsamp.records import Prediction, Sample

    gc.collect()
    objects = gc.get_objects()
    torch = sys.modules.get("torch")
    modules = Counter(type(o).__name__ for o in objects if torch and isinstance(o, torch.nn.Module))
    return {
        "rss_mib": psutil.Process().memory_info().rss / 2**20,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "predictions": sum(isinstance(o, Prediction) for o in objects),
        "samples": sum(isinstance(o, Sample) for o in objects),
        "torch_modules": sum(modules.values()),
        "module_types": dict(modules.most_common(3)),
    }


def one_build(recipe_path: str, out: str, slots: int) -> dict:
    """Child process: one build (slots 0: no Ray); prints its figures as JSON."""
    import negsamp.scoring
    from negsamp.build import build
    from negsamp.recipe import load_recipe

    recipe = load_recipe(recipe_path)
    figures: dict = {"slots": slots, "init_s": 0.0}
    score_table = negsamp.scoring.score_table

    def snapshot_then_score(samples, predictions):
        # build() scores right after generation: the moment the driver holds every prediction
        # (it looks negsamp.scoring.score_table up at call time, so the patch below is seen).
        figures["generated"] = driver_memory()
        return score_table(samples, predictions)

    negsamp.scoring.score_table = snapshot_then_score
    options = None
    if slots:
        import ray

        from negsamp.distributed import RayOptions

        temp = tempfile.mkdtemp(prefix="ray", dir="/tmp")
        start = time.perf_counter()
        ray.init(num_cpus=slots, _temp_dir=temp, include_dashboard=False, log_to_driver=False)
        figures["init_s"] = time.perf_counter() - start
        options = RayOptions()
    start = time.perf_counter()
    result = build(recipe, out, progress=False, ray=options)
    figures["build_s"] = time.perf_counter() - start
    figures["content_hash"] = result.manifest.content_hash
    figures["end"] = driver_memory()
    if slots:
        from ray._private.worker import global_worker  # no public API lists a driver's own refs

        figures["object_refs"] = len(global_worker.core_worker.get_all_reference_counts())
        ray.shutdown()
        shutil.rmtree(temp, ignore_errors=True)
    return figures


def label(row: dict) -> str:
    return f"ray, {row['slots']} slot(s)" if row["slots"] else "single process"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--recipe", default="builders/tiny-cpu.yaml")
    parser.add_argument("--work", type=Path, default=Path("out/bench_ray"))
    parser.add_argument("--slots", default="1,2", help="Ray cluster sizes to run (comma-separated)")
    parser.add_argument("--child", nargs=2, metavar=("OUT", "SLOTS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(one_build(args.recipe, args.child[0], int(args.child[1]))))
        return
    shutil.rmtree(args.work, ignore_errors=True)
    env = {**os.environ, "RAY_AUTH_MODE": os.environ.get("RAY_AUTH_MODE", "disabled")}
    rows = []
    for slots in [0, *(int(s) for s in args.slots.split(","))]:
        out = args.work / (f"ray{slots}" if slots else "single")
        proc = subprocess.run([sys.executable, __file__, "--recipe", args.recipe, "--child", str(out), str(slots)],
                              capture_output=True, text=True, env=env, check=False)
        if proc.returncode:
            sys.exit(f"build with {slots} slot(s) failed:\n{proc.stderr[-3000:]}")
        rows.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    base = rows[0]["build_s"]
    print(f"{'build':<18}{'init s':>7}{'build s':>8}{'vs single':>10}  content hash")
    for r in rows:
        print(f"{label(r):<18}{r['init_s']:>7.1f}{r['build_s']:>8.1f}{r['build_s'] / base:>9.2f}x  "
              f"{r['content_hash'][:16]}")
    print("\ndriver memory (after generation / when build returned):")
    print(f"{'build':<18}{'RSS MiB':>14}{'peak MiB':>9}{'Predictions':>14}{'Samples':>10}{'torch modules':>15}"
          f"{'refs':>6}")
    for r in rows:
        g, e = r["generated"], r["end"]
        print(f"{label(r):<18}{g['rss_mib']:>6.0f} / {e['rss_mib']:<5.0f}{e['peak_rss_mib']:>9.0f}"
              f"{g['predictions']:>6} / {e['predictions']:<5}{g['samples']:>4} / {e['samples']:<3}"
              f"{g['torch_modules']:>7} / {e['torch_modules']:<5}{r.get('object_refs', '-'):>6}")
    for r in rows:
        if r["end"]["module_types"]:
            print(f"{label(r)}: torch modules alive when build returned: {r['end']['module_types']}")
    same = len({r["content_hash"] for r in rows}) == 1
    print(f"content hashes {'all equal' if same else 'DIFFER'}")
    if not same:
        sys.exit(1)


if __name__ == "__main__":
    main()
