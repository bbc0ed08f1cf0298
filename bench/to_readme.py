"""Run a benchmark and put its output into README.md or a page of docs/ between markers,
never by hand (the file that holds the markers is the one rewritten).

    python bench/to_readme.py NAME [--code] -- python bench/train.py --sizes 16 32 128

replaces the text between `<!-- NAME:begin -->` and `<!-- NAME:end -->` with a line
naming the command, the date and the machine, then the command's standard output
(in a code block with --code).

    python bench/to_readme.py NAME --file bench/results/gpu.md

puts a committed output file there instead, for a benchmark that ran on another machine
(bash bench/gpu.sh on a GPU): its first line says where and when it ran.
"""
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"


def target(name):
    """The file (README.md or docs/*.md) holding the markers of section `name`."""
    for path in [README, *sorted((ROOT / "docs").glob("*.md"))]:
        if f"<!-- {name}:begin -->" in path.read_text():
            return path
    sys.exit(f"markers <!-- {name}:begin --> / <!-- {name}:end --> found in no README.md or docs/*.md")


def replace_section(text, name, body):
    begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
    if begin not in text or end not in text:
        sys.exit(f"markers {begin} / {end} not found")
    head, rest = text.split(begin, 1)
    return head + begin + "\n" + body.rstrip() + "\n" + rest[rest.index(end):]


def write_section(name, body):
    path = target(name)
    path.write_text(replace_section(path.read_text(), name, body))


def main():
    args = sys.argv[1:]
    if len(args) == 3 and args[1] == "--file":
        body = Path(args[2]).read_text()
        write_section(args[0], body)
        print(body)
        return
    if "--" not in args or args.index("--") not in (1, 2) or len(args) < 3:
        sys.exit(__doc__)
    name, code, command = args[0], args[1] == "--code", args[args.index("--") + 1:]
    # the benchmark's stderr (progress, errors) goes to ours; only its stdout is the section
    proc = subprocess.run(command, stdout=subprocess.PIPE, text=True)
    if proc.returncode != 0:
        sys.exit(f"{' '.join(command)} failed (exit {proc.returncode}); the section is unchanged")
    out = proc.stdout
    if code:
        out = "```\n" + out.rstrip() + "\n```\n"
    shown = " ".join(c if c != sys.executable else "python" for c in command)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    header = f"Output of `{shown}` on {time.strftime('%Y-%m-%d')}, {cores} cores:\n"
    write_section(name, header + "\n" + out)
    print(out)


if __name__ == "__main__":
    main()
