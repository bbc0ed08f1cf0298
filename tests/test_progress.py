"""Progress of long stages: in a log (not a terminal) one line per finished step with the
count, elapsed time and what is left; on a terminal, a bar and no such lines."""
import io
import re

from unlearn.core.progress import Progress


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_a_log_gets_one_line_per_step_with_count_elapsed_and_time_left():
    log = io.StringIO()
    progress = Progress(3, "finetune", stream=log)
    for seed in range(3):
        progress.step(f"seed {seed}")
    progress.close()
    lines = log.getvalue().splitlines()
    assert len(lines) == 3
    assert re.fullmatch(r"\[finetune\] run 1/3 \(seed 0\), \d+ s elapsed, about \d+ s left", lines[0])
    assert re.fullmatch(r"\[finetune\] run 3/3 \(seed 2\), \d+ s elapsed", lines[2])   # done: no estimate


def test_a_terminal_gets_a_bar_instead_of_lines():
    term = Terminal()
    progress = Progress(2, "original_0", unit="epoch", stream=term)
    progress.step("loss 1.2")
    progress.step("loss 1.1")
    progress.close()
    out = term.getvalue()
    assert "2/2" in out and "original_0" in out and "\r" in out
    assert "[original_0] epoch" not in out
