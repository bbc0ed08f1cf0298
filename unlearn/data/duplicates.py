"""Duplicate and leak audit of the prepared splits (forget, retain, val, test).

MUFAC holds identical photos under different families and copies across splits
(docs/dataset.md#known-defects-duplicates-and-leaks). A forget image whose copy stays in
retain cannot be forgotten (the retrained reference model sees it too), and a val/test copy
of a training image inflates held-out accuracy. The audit finds, within and across splits:

- exact duplicates: the same decoded pixels (BLAKE2b of the RGB array at native size);
- near duplicates: different pixels whose 256-bit perceptual hashes (pHash of the
  `imagehash` package at hash_size 16: DCT of the 64×64 grey image, its 16×16 lowest
  frequencies against their median) differ in at most `near_threshold` bits. Why 256 bits:
  on the bundled synthetic data, photos of different people came within 2 bits of each
  other at the common 64-bit size, whereas at 256 bits the closest unrelated pair was 40
  bits apart and every re-encoded copy within 4 (measured over all 400k pairs of the
  default data). Unrelated photos differ in about half the bits.

Pairs are listed once, (a, b) with a before b in split order forget, retain, val, test and
CSV order inside a split. Policy `drop` removes from retain, val and test every copy (exact
or near) of a forget image, and from val and test every copy of a train (forget or retain)
image: copies within retain, or within val/test, stay (they leak nothing).
"""
import hashlib
from collections import defaultdict
from dataclasses import dataclass

import imagehash
import numpy as np
import pandas as pd

from unlearn.core.errors import UserError

SPLIT_ORDER = ("forget", "retain", "val", "test")
COLUMNS = ("split_a", "image_a", "split_b", "image_b", "kind", "distance")
HASH_SIZE = 16              # pHash of HASH_SIZE² = 256 bits
WORDS = HASH_SIZE ** 2 // 64
CHUNK = 128                 # rows of the pairwise Hamming-distance block (memory only)


def fingerprint(image):
    """(hex digest of the decoded pixels, pHash as a tuple of WORDS 64-bit ints) of an RGB
    PIL image."""
    pixels = np.asarray(image, dtype=np.uint8)
    digest = hashlib.blake2b(pixels.tobytes(), digest_size=16)
    digest.update(repr(pixels.shape).encode())
    bits = imagehash.phash(image, hash_size=HASH_SIZE).hash.flatten()
    words = np.packbits(bits).view(">u8")
    return digest.hexdigest(), tuple(int(w) for w in words)


@dataclass
class Audit:
    pairs: pd.DataFrame     # COLUMNS, one row per pair
    dropped: dict           # split -> sorted positions (in that split) to remove
    policy: str
    near_threshold: int

    def counts(self):
        """What info.json records under `duplicates`."""
        kinds = self.pairs["kind"]
        cross = self.pairs["split_a"] != self.pairs["split_b"]
        fr = (self.pairs["split_a"] == "forget") & (self.pairs["split_b"] == "retain")
        return {"policy": self.policy, "near_threshold": self.near_threshold,
                "exact_pairs": int((kinds == "exact").sum()),
                "near_pairs": int((kinds == "near").sum()),
                "forget_retain_pairs": int(fr.sum()), "cross_split_pairs": int(cross.sum()),
                "dropped": sum(len(v) for v in self.dropped.values()),
                "dropped_by_split": {s: len(self.dropped.get(s, [])) for s in SPLIT_ORDER}}


def near_pairs(hashes, threshold):
    """(i, j, distance) for i < j whose hashes differ in at most `threshold` bits."""
    h = np.asarray(hashes, dtype=np.uint64).reshape(len(hashes), WORDS)
    found = []
    for start in range(0, len(h), CHUNK):
        block = h[start:start + CHUNK]
        diff = np.bitwise_count(block[:, None, :] ^ h[None, start:, :])
        dist = diff.sum(-1, dtype=np.int32)                             # [c, n - start]
        ii, jj = np.nonzero(dist <= threshold)
        keep = jj > ii                                                 # upper triangle only
        for i, j in zip(ii[keep].tolist(), jj[keep].tolist()):
            found.append((start + i, start + j, int(dist[i, j])))
    return found


def audit(fingerprints, near_threshold, policy="report"):
    """Pairs and, for policy `drop`, what to remove.

    fingerprints: {split: (image names, [(digest, phash)])} for the splits of SPLIT_ORDER.
    """
    # (split, name, (digest, phash), position in its split), in split order then CSV order
    items = [(s, name, fp, k) for s in SPLIT_ORDER
             for k, (name, fp) in enumerate(zip(*fingerprints[s]))]
    by_digest = defaultdict(list)
    for i, item in enumerate(items):
        by_digest[item[2][0]].append(i)
    raw = [(a, b, "exact", 0) for group in by_digest.values()
           for x, a in enumerate(group) for b in group[x + 1:]]
    raw += [(a, b, "near", d) for a, b, d in near_pairs([it[2][1] for it in items], near_threshold)
            if items[a][2][0] != items[b][2][0]]
    raw.sort()
    pairs = pd.DataFrame([(items[a][0], items[a][1], items[b][0], items[b][1], kind, d)
                          for a, b, kind, d in raw], columns=list(COLUMNS))
    dropped = {}
    if policy == "drop":
        leaking = set()         # (split, position) of b in a pair (a, b) that leaks
        for a, b, *_ in raw:
            split_a, split_b = items[a][0], items[b][0]
            if ((split_a == "forget" and split_b != "forget")
                    or (split_a == "retain" and split_b in ("val", "test"))):
                leaking.add((split_b, items[b][3]))
        for split, k in sorted(leaking):
            dropped.setdefault(split, []).append(k)
        for split, ks in dropped.items():
            if len(ks) == len(fingerprints[split][0]):
                raise UserError(f"prepare.duplicates: drop would remove all {len(ks)} "
                                f"images of {split} (each is a copy of a forget or train image)")
    return Audit(pairs, dropped, policy, near_threshold)


def markdown_section(counts, pairs, limit=10):
    """The report's section on the audit: counts, what they mean for this run, and the
    forget images that have copies elsewhere (the first `limit`)."""
    drop = counts["policy"] == "drop"
    lines = ["## Duplicates and leaks in the data\n",
             f"Audit of `prepare` (policy `{counts['policy']}`; near = pHash within "
             f"{counts['near_threshold']} of 256 bits): data/prepared/duplicates.csv lists every "
             f"pair.\n",
             "| exact pairs | near pairs | forget–retain pairs | pairs across splits | dropped |",
             "|---|---|---|---|---|",
             f"| {counts['exact_pairs']} | {counts['near_pairs']} | {counts['forget_retain_pairs']} "
             f"| {counts['cross_split_pairs']} | {counts['dropped']}"
             + (" (" + ", ".join(f"{s} {n}" for s, n in counts["dropped_by_split"].items() if n) + ")"
                if counts["dropped"] else "") + " |", ""]
    if counts["forget_retain_pairs"] and not drop:
        lines.append(f"⚠ {counts['forget_retain_pairs']} forget–retain pair(s): a forget image "
                     f"with a copy in retain cannot be forgotten, since the retrained reference "
                     f"models learn the copy too. `prepare.duplicates: drop` removes such "
                     f"copies.\n")
    if counts["cross_split_pairs"] and not drop:
        lines.append("A val/test image with a copy in train inflates held-out accuracy.\n")
    forget = pairs[pairs["split_a"] == "forget"]
    if len(forget):
        lines += ["Forget images with copies:\n", "| forget image | copy | in | kind | bits |",
                  "|---|---|---|---|---|"]
        lines += [f"| {r.image_a} | {r.image_b} | {r.split_b} | {r.kind} | {r.distance} |"
                  for r in forget.head(limit).itertuples()]
        if len(forget) > limit:
            lines.append(f"\n… and {len(forget) - limit} more in data/prepared/duplicates.csv.")
        lines.append("")
    return "\n".join(lines) + "\n"
