"""Process tuning shared by the long-running services (API and worker)."""

from __future__ import annotations

import gc


def tune_gc(gen0_threshold: int) -> None:
    """Freeze what start-up built and collect the young generation less often.

    A webhook payload parses into hundreds of containers. With Python's default threshold (700) a
    collection ran every request or two, and the older generations' ones walked the ~150,000 objects the
    frameworks create at start-up: a quarter of the API's CPU per webhook and its latency tail
    (bench/ingest.py). `gc.freeze` moves everything alive now out of the collector's sight (it is still
    freed by reference counting); cycles made later are still collected. 0 leaves Python's defaults.
    """
    if gen0_threshold <= 0:
        return
    gc.collect()
    gc.freeze()
    _, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(gen0_threshold, gen1, gen2)
