"""Peak memory of the pool's index updates (`update_indexes`: the near-duplicate index's merges, the recitation
guard's update) on a kept platform, and where it was reached.

    DAGSTER_HOME=<kept home> .venv/bin/python bench/index_memory.py [--whole]

A kept home comes from `bench/throughput.py --keep`. The job runs in this process, as `onett ingest` runs it; a
thread samples /proc/self/status every 0.1 s and, each time anonymous memory (what the kernel cannot drop, unlike
the pages of memory-mapped index files) passes another 250 MiB, notes the main thread's innermost calls. `--whole`
first removes the recitation index, so the guard is rebuilt whole from every partition (the largest update there
is: a rule change, or a first ingest of a backfill); that destroys the kept index, which the run then replaces.
Prints one JSON line (seconds, peak RSS and anonymous MiB, the guard's metadata), then the marks."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import threading
import time
import traceback
from pathlib import Path

from onett_cli.session import Session

LEVEL_MIB = 250


class Sampler:
    """Peak VmRSS and RssAnon of this process, and the main thread's innermost calls at each new level."""

    def __init__(self) -> None:
        self.rss = self.anonymous = 0
        self.marks: list[tuple[int, str]] = []
        self._main = threading.main_thread().ident
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        level = 0
        while True:
            with open("/proc/self/status") as status:
                for line in status:
                    if line.startswith("VmRSS:"):
                        self.rss = max(self.rss, int(line.split()[1]) // 1024)
                    elif line.startswith("RssAnon:"):
                        self.anonymous = max(self.anonymous, int(line.split()[1]) // 1024)
            if self.anonymous // LEVEL_MIB > level:
                level = self.anonymous // LEVEL_MIB
                stack = traceback.extract_stack(sys._current_frames().get(self._main))[-5:]
                self.marks.append((self.anonymous, " <- ".join(
                    f"{Path(frame.filename).name}:{frame.lineno} {frame.name}" for frame in reversed(stack))))
            time.sleep(0.1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--whole", action="store_true", help="remove the recitation index first: rebuilt whole")
    args = parser.parse_args()
    sampler = Sampler()
    session = Session()
    if args.whole:
        index = Path(session.resources["recitation_store"].path)
        if index.is_symlink():
            shutil.rmtree(index.parent / os.readlink(index), ignore_errors=True)
            index.unlink()
    started = time.perf_counter()
    result = session.run("update_indexes")
    seconds = time.perf_counter() - started
    guard = {}
    for event in result.all_events:
        materialization = event.event_specific_data.materialization if event.is_step_materialization else None
        if materialization is not None and materialization.asset_key.path[-1] == "recitation_index":
            guard = {key: value.value for key, value in materialization.metadata.items()
                     if key in ("texts", "tokens", "documents", "partitions", "partitions read again", "segments",
                                "how", "seconds")}
    print(json.dumps({"success": result.success, "seconds": round(seconds, 1), "peak_rss_mib": sampler.rss,
                      "peak_anonymous_mib": sampler.anonymous, "recitation_index": guard}, default=str))
    for anonymous, where in sampler.marks:
        print(f"{anonymous:>6} MiB  {where}")


if __name__ == "__main__":
    main()
