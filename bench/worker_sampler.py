"""`python -m bench.worker_sampler OUT`: run `reviewops worker`, sampling where its threads spend time.

py-spy is not installed here, and cProfile sees only the thread that enabled it; this samples every
thread's Python stack 100 times a second (`sys._current_frames`) and, at exit, writes to OUT the
functions most often on top of a busy stack (`self`) and anywhere on it (`total`), counting only samples
whose innermost frame is not a known wait (socket reads, locks, queue gets, sleeps, `select`). It costs
the worker some CPU (a few %), so figures taken under it are for finding hot spots, not for the table.
Used by `python -m bench.review --sample OUT`.
"""

from __future__ import annotations

import atexit
import collections
import sys
import threading
import time
from pathlib import Path
from types import FrameType

WAITS = ("wait", "acquire", "recv", "recv_into", "readinto", "select", "poll", "sleep", "get", "accept",
         "_wait_for_tstate_lock", "read", "epoll", "blpop", "brpoplpush", "readline",
         "_worker",  # an idle ThreadPoolExecutor thread: its queue get is C, so its own frame is on top
         "__next__")  # dramatiq's Redis consumer between polls  # fmt: skip
INTERVAL = 0.01


def _key(frame: FrameType) -> str:
    code = frame.f_code
    return f"{Path(code.co_filename).name}:{code.co_name}"


def sample(out: Path) -> None:
    own: collections.Counter[str] = collections.Counter()
    total: collections.Counter[str] = collections.Counter()
    busy = [0, 0]  # busy samples, all samples

    def loop() -> None:
        me = threading.get_ident()
        while True:
            time.sleep(INTERVAL)
            for ident, frame in sys._current_frames().items():
                if ident == me:
                    continue
                busy[1] += 1
                if frame.f_code.co_name in WAITS:
                    continue
                busy[0] += 1
                own[_key(frame)] += 1
                seen: set[str] = set()
                f: FrameType | None = frame
                while f is not None:
                    k = _key(f)
                    if k not in seen:
                        total[k] += 1
                        seen.add(k)
                    f = f.f_back

    def dump() -> None:
        lines = [f"busy samples {busy[0]} of {busy[1]} thread samples", "", "self:"]
        lines += [f"{n:7d} {100 * n / max(1, busy[0]):5.1f}% {k}" for k, n in own.most_common(40)]
        lines += ["", "total (on the stack):"]
        lines += [f"{n:7d} {100 * n / max(1, busy[0]):5.1f}% {k}" for k, n in total.most_common(60)]
        out.write_text("\n".join(lines) + "\n")

    threading.Thread(target=loop, name="bench-sampler", daemon=True).start()
    atexit.register(dump)


def main() -> None:
    sample(Path(sys.argv[1]))
    from reviewops.cli.main import main as cli

    sys.argv = ["reviewops", "worker"]
    cli()


if __name__ == "__main__":
    main()
