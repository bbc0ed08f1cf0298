"""Progress of long work: steps done of a total, elapsed time and an estimate of what is
left. On a terminal, a tqdm bar; elsewhere (DVC's logs, `dvc queue logs`, CI) one plain line
per step, so a log shows how far a stage got without a bar's control characters."""
import sys
import time

from tqdm import tqdm

# Whether a loop inside a run (an epoch's batches) shows a bar of its own. A stage that
# hands runs to workers shows one bar for all of them and its workers turn theirs off
# (unlearn/core/executor.py). TQDM_DISABLE would not do: tqdm reads the environment once,
# when it is imported, which in a forked worker was before the worker started.
_INNER = {"bars": True}


def hide_inner_bars():
    """No inner bars in this process from now on (a worker: its parent shows one bar)."""
    _INNER["bars"] = False


def inner_bars_on():
    return _INNER["bars"]


def inner_bar(iterable, desc):
    """`iterable` with a transient bar on a terminal, unless inner bars are off."""
    if not inner_bars_on():
        return iterable
    return tqdm(iterable, desc=desc, leave=False, disable=None)


def _clock(seconds):
    seconds = int(round(seconds))
    return f"{seconds // 60}:{seconds % 60:02d}" if seconds >= 60 else f"{seconds} s"


class Progress:
    def __init__(self, total, desc, unit="run", stream=None):
        self.total, self.desc, self.unit = total, desc, unit
        self.stream = stream or sys.stderr
        self.done, self.start = 0, time.perf_counter()
        terminal = getattr(self.stream, "isatty", lambda: False)()
        self.bar = tqdm(total=total, desc=desc, unit=unit, file=self.stream) if terminal else None

    def step(self, note=""):
        """One more step done; `note` says what it was (e.g. 'seed 3' or 'loss 1.21')."""
        self.done += 1
        if self.bar is not None:
            self.bar.set_postfix_str(note, refresh=False)
            self.bar.update(1)
            return
        elapsed = time.perf_counter() - self.start
        left = elapsed / self.done * (self.total - self.done)
        print(f"[{self.desc}] {self.unit} {self.done}/{self.total}"
              + (f" ({note})" if note else "")
              + f", {_clock(elapsed)} elapsed"
              + (f", about {_clock(left)} left" if self.done < self.total else ""),
              file=self.stream, flush=True)

    def close(self):
        if self.bar is not None:
            self.bar.close()
