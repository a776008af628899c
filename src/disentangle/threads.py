"""Thread counts that hold up when the machine is doing other work too.

Giving every core to an intra-op thread pool is fastest only while those cores are free. When
another busy process shares them, each parallel operation waits at its barrier for a thread
the OS has descheduled: on the 2-core machine a d = 384 training step took 92 ms with 2
threads quiet, 520 ms with 2 threads next to one busy process, and about 80 ms with 1 thread
either way (issue 14; ``benchmarks/train_threads.py``). No static rule knows the load a run
will meet, and the load average reacts over a minute, so ``ThreadChooser`` times the repeated
work itself: a few calls at each candidate count, then the fastest, re-checked periodically.

Choosing by timing keeps results reproducible only where the work gives identical bits at
every thread count; the training step does (``tests/sae/test_sae_training.py`` checks it),
which is why its few thread-sensitive reductions run through ``single_threaded``.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from types import TracebackType

import torch

TRIALS = 3
"""Timed calls per candidate count when choosing (the median decides)."""
CLEAR_LOSS = 2.0
"""A count whose best trial is this many times slower than another's is not tried further."""
RECHECK_SECONDS = 30.0
RECHECK_CALLS = 100
"""A choice is re-checked once both this much wall time and this many calls have passed,
so a load that starts or stops mid-run is noticed. A re-check first probes each other count
with a single call (under load the slow count can cost 6× a call, so probing must be rare
and short) and times all counts again only if a probe beats the chosen count's median."""


def available_cores() -> int:
    """Cores this process may run on (its CPU affinity, which containers and ``taskset``
    narrow), not the machine's count."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


@contextmanager
def single_threaded() -> Iterator[None]:
    """Run torch's CPU operations inside on one thread, for those whose result or speed
    depends on the thread count (a parallel sort stalls on a busy machine; a parallel
    matrix-vector product sums in a thread-dependent order)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


class ThreadChooser:
    """Picks, among candidate thread counts, the one under which repeated calls run fastest.

    Wrap each repetition of the work (a training step, an encoding batch) in :meth:`timed`;
    ``apply`` sets the count before the call (torch's intra-op threads by default; an ONNX
    embedder instead reads the yielded count to choose its session). The choice is re-checked
    now and then (``RECHECK_CALLS``). Used as a context manager it restores torch's thread
    count on exit.
    """

    def __init__(
        self,
        candidates: Sequence[int] | None = None,
        apply: Callable[[int], None] | None = torch.set_num_threads,
        trials: int = TRIALS,
        recheck_seconds: float = RECHECK_SECONDS,
        recheck_calls: int = RECHECK_CALLS,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        # At most torch's own count (which OMP_NUM_THREADS or the caller may have lowered)
        # and the cores this process may use. Fewest first: the untimed warm-up call runs
        # there, and one thread is the count that a busy machine slows least.
        most = min(torch.get_num_threads(), available_cores())
        self.candidates = sorted(set(candidates or (1, most)))
        self.apply = apply
        self.trials = trials
        self.recheck_seconds = recheck_seconds
        self.recheck_calls = recheck_calls
        self.clock = clock
        self.times: dict[int, list[float]] = {c: [] for c in self.candidates}
        self.threads = self.candidates[0]
        self._queue = self._trial_order()
        self._warm_up = bool(self._queue)
        self._probing = False
        self._decided_at = 0.0
        self._calls_since = 0
        self._restore = torch.get_num_threads()

    def _trial_order(self) -> list[int]:
        """Candidates interleaved (a, b, a, b, …) so a burst of load hits them alike."""
        if len(self.candidates) == 1:
            return []
        for recent in self.times.values():
            recent.clear()
        return [c for _ in range(self.trials) for c in self.candidates]

    @contextmanager
    def timed(self, work: float = 1.0) -> Iterator[int]:
        """Run one repetition under the count to try or use now; yields that count. ``work``
        scales the time when repetitions differ in size (e.g. tokens in a batch)."""
        threads = self._queue[0] if self._queue else self.threads
        if self.apply is not None:
            self.apply(threads)
        start = self.clock()
        yield threads
        self._record(threads, (self.clock() - start) / work)

    def _record(self, threads: int, seconds: float) -> None:
        if self._warm_up:  # a first call pays for allocations and lazy set-up: not timed
            self._warm_up = False
            return
        recent = self.times[threads]
        recent.append(seconds)
        del recent[:-self.trials]
        self._calls_since += 1
        if self._queue:
            self._queue.pop(0)
            if not self._probing:
                self._drop_clear_losers()
            if not self._queue:
                self._decide()
        elif (self._calls_since >= self.recheck_calls
              and self.clock() - self._decided_at >= self.recheck_seconds):
            self._queue = [c for c in self.candidates if c != self.threads]
            self._probing = True

    def _drop_clear_losers(self) -> None:
        """Stop trying a count whose best call so far is ``CLEAR_LOSS``× slower than another
        count's best: under load the slow count's calls are what the trials cost."""
        tried = {c: min(self.times[c]) for c in self.candidates if self.times[c]}
        if len(tried) > 1:
            best = min(tried.values())
            self._queue = [c for c in self._queue if tried.get(c, 0.0) <= CLEAR_LOSS * best]

    def _decide(self) -> None:
        current = statistics.median(self.times[self.threads])
        if self._probing:
            self._probing = False
            if any(self.times[c][-1] < current for c in self.candidates if c != self.threads):
                self._queue = self._trial_order()
                return
        else:
            self.threads = min(self.candidates, key=lambda c: statistics.median(self.times[c]))
        self._decided_at = self.clock()
        self._calls_since = 0

    def __enter__(self) -> ThreadChooser:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        torch.set_num_threads(self._restore)


def torch_threads_for(device: torch.device, same_bits_at_any_count: bool = True) -> ThreadChooser:
    """The chooser for repeated torch work on ``device``: a timing-based choice on CPU when
    the work's result does not depend on the thread count (so the choice cannot change it);
    otherwise torch's current count, left as it is (a GPU's host threads only launch kernels)."""
    if device.type == "cpu" and same_bits_at_any_count:
        return ThreadChooser()
    return ThreadChooser([torch.get_num_threads()], apply=None)
