"""Thread-count choice by timing: picks the faster count, follows a load change, restores."""

import torch

from disentangle.threads import ThreadChooser, single_threaded


class FakeWork:
    """A clock that advances by the current cost of the thread count last applied."""

    def __init__(self, cost: dict[int, float]) -> None:
        self.cost, self.now, self.threads, self.applied = cost, 0.0, 0, []

    def apply(self, threads: int) -> None:
        self.threads = threads
        self.applied.append(threads)

    def clock(self) -> float:
        return self.now

    def run(self, chooser: ThreadChooser, calls: int) -> None:
        for _ in range(calls):
            with chooser.timed():
                self.now += self.cost[self.threads]


def test_picks_the_faster_count_after_interleaved_trials() -> None:
    work = FakeWork({1: 0.08, 2: 0.05})
    chooser = ThreadChooser([1, 2], apply=work.apply, trials=3, clock=work.clock)
    work.run(chooser, 7)
    assert work.applied == [1, 1, 2, 1, 2, 1, 2]  # an untimed warm-up call, then the trials
    work.run(chooser, 10)
    assert chooser.threads == 2 and work.applied[7:] == [2] * 10


def test_switches_when_a_competing_load_appears_and_back_when_it_goes() -> None:
    work = FakeWork({1: 0.08, 2: 0.05})
    chooser = ThreadChooser([1, 2], apply=work.apply, trials=3, recheck_seconds=1.0,
                            recheck_calls=10, clock=work.clock)
    work.run(chooser, 30)
    assert chooser.threads == 2
    work.cost = {1: 0.08, 2: 0.52}  # another busy process now shares the cores
    work.run(chooser, 30)
    assert chooser.threads == 1
    work.cost = {1: 0.08, 2: 0.05}
    work.run(chooser, 60)
    assert chooser.threads == 2


def test_probe_that_loses_keeps_the_choice_without_full_trials() -> None:
    work = FakeWork({1: 0.08, 2: 0.5})
    chooser = ThreadChooser([1, 2], apply=work.apply, trials=3, recheck_seconds=0.0,
                            recheck_calls=20, clock=work.clock)
    work.run(chooser, 5 + 20 + 1 + 5)
    # Warm-up, one trial each, then 2 threads (a clear loser) is not tried again: two more
    # trials of 1 thread, 20 calls at 1 thread, one probe at 2 threads (still slower), then
    # 1 thread again.
    assert work.applied == [1, 1, 2, 1, 1] + [1] * 20 + [2] + [1] * 5


def test_restores_torch_threads_and_single_threaded_restores_too() -> None:
    before = torch.get_num_threads()
    with ThreadChooser([1]) as chooser, chooser.timed() as threads:
        assert threads == 1 and torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
    with single_threaded():
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
