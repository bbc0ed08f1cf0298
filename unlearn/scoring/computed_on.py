"""What computed the scored models: each output's record (unlearn.core.compute.record:
device, precision, memory format, ...) as one line, and the report's section about them.

A model pulled from a remote or restored from DVC's run-cache may have been computed on
another machine; its record travels with it, so the report shows when the scored runs and
the reference models were not all computed alike.
"""


def label(rec):
    """One line for a record: 'cpu (AVX2 kernels), 1 thread, fp32, contiguous, torch 2.14.1'
    or 'cuda:0 (NVIDIA H200), bf16, channels_last, deterministic, torch 2.11.0'."""
    if not rec:
        return "not recorded"
    device = rec["device"] + (f" ({rec['device_name']})" if rec.get("device_name") else "")
    if rec.get("cpu_kernels"):
        device += f" ({rec['cpu_kernels']} kernels)"
    threads = rec.get("threads", 1)
    parts = [device] + ([f"{threads} thread{'s' * (threads > 1)}"] if rec["device"] == "cpu"
                        else []) + [rec["precision"], rec["memory_format"]]
    if "deterministic" in rec:
        parts.append("deterministic" if rec["deterministic"] else "nondeterministic")
    if rec.get("torch"):
        parts.append(f"torch {rec['torch']}")
    return ", ".join(parts)


def labels(records):
    """The distinct labels of some records, sorted."""
    return sorted({label(r) for r in (records or [None])})


def render(rows):
    """The report's section: which device and precision computed each method's runs and
    its reference models, with a warning when they were not all computed alike."""
    seen = sorted({x for r in rows for k in ("runs", "references")
                   for x in r.get("computed_on", {}).get(k, ["not recorded"])})
    text = "## Computed on\n\n"
    if len(seen) == 1:
        return text + f"Every scored run and reference model: {seen[0]}.\n\n"
    text += ("⚠ The scored models were not all computed alike (another device, precision or "
             "memory format: a pulled checkpoint or a run-cache hit from another machine, or "
             "changed `compute` params). Scores of models computed differently are not "
             "strictly comparable.\n\n| method | runs | reference models |\n|---|---|---|\n")
    for r in rows:
        on = r.get("computed_on", {})
        text += (f"| {r['method']} | {'; '.join(on.get('runs', ['not recorded']))} | "
                 f"{'; '.join(on.get('references', ['not recorded']))} |\n")
    return text + "\n"
