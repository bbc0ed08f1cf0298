"""A procedural stand-in for MUFAC, written in MUFAC's exact on-disk layout.

Why it exists: the real data cannot be bundled, yet the benchmark must run end to end and
unlearning must be *measurable* on it. What makes it measurable on MUFAC is reproduced:
  * age is learnable but noisy: head size and shape, eye position, wrinkles, greying and
    receding hair, beards and age spots follow an *apparent* age = true age + a per-person
    offset + per-photo jitter; pose, scale, lighting, clothes and pixel noise vary per photo;
    `label_noise` records a neighbouring class for some photos. Held-out accuracy stays far
    below training accuracy, as on MUFAC. Calibrated with the default params, 32 px,
    ResNet-18, the study recipe for 15 epochs: original train 0.88 / forget 0.88 /
    val 0.54 / test 0.45; retrained on retain: forget 0.57 / val 0.52 / test 0.46.
  * every person carries identity traits a network can memorise (skin tone, hair style,
    eye colour, accessories, clothes, a personal background pattern), and every photo its
    own props, clothes and framing, so an original model fits forget images (noisy labels
    included) far better than a model retrained without them.
Families get disjoint ID ranges per split (train F0001…, val F0801…, test F0851…), names are
`{family}_AGE_{role}_{age now}_{class letter}{n}.jpg` (a few `.JPG`), CSVs are written by
pandas with the index column. Only a seeded numpy RNG is used, one stream per family, so a
seed gives byte-identical files and changing one split's size leaves the others unchanged.
"""
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image, ImageDraw
from tqdm import tqdm

from unlearn.core.errors import UserError
from unlearn.core.sections import GenerateConfig, family_starts
from unlearn.data.mufac import (AGE_RANGES, CLASS_LETTERS, DATASET_DIRNAME, SPLITS, csv_name,
                                images_dirname)
from unlearn.data.planted import plant_duplicates

SIZE = 128                  # MUFAC's resolution
JPEG_QUALITY = 90           # fixed: part of what makes the bytes reproducible
UPPER_EXT_SHARE = 0.04      # share of file names ending `.JPG`, as in MUFAC
PERSON_AGE_SD = 1.5         # years: some people look older or younger than they are
PHOTO_AGE_SD = 1.5          # years: per-photo apparent-age jitter
ALBUM_YEARS = 40            # photos of a person span at most this many years


def age_class(age):
    """Class index of an integer age (ages past 80 count as the last class)."""
    return next((k for k, (_, hi) in enumerate(AGE_RANGES) if age <= hi), len(AGE_RANGES) - 1)


def check_generate_out(out, here=None):
    """Refuse a `generate.out` whose replacement would delete anything but an earlier
    synthetic dataset (DVC removes a stage's outputs before it runs it)."""
    here = Path(here or Path.cwd()).resolve()
    target = (here / out).resolve()
    if target == here or target in here.parents or str(out).strip() in ("", "."):
        raise UserError(f"generate.out: {out!r} is the working folder or above it")
    if target.exists() and not target.is_dir():
        raise UserError(f"generate.out: {out} is a file, not a folder")
    extra = [p.name for p in target.iterdir() if p.name != DATASET_DIRNAME] if target.exists() else []
    if extra:
        raise UserError(f"generate.out: {out} holds other files ({', '.join(sorted(extra)[:3])});"
                        " it must be a folder of its own, replaced by each run")


def _roles(n, rng):
    """Family roles: parents, children (S, D, S2, D2, ...), then grandparents."""
    roles = ["F", "M"][:n]
    n_grand = int(rng.integers(0, min(2, max(n - 3, 0)) + 1))
    seen = {"S": 0, "D": 0}
    for _ in range(n - len(roles) - n_grand):
        kind = "S" if rng.random() < 0.5 else "D"
        seen[kind] += 1
        roles.append(kind if seen[kind] == 1 else f"{kind}{seen[kind]}")
    return roles + ["GF", "GM"][:n_grand]


def _color(rng, base, sd):
    return np.clip(np.asarray(base, float) + rng.normal(0, sd, 3), 0, 255)


# Dark hair only (as in a Korean family album): greying is then a clean age cue.
HAIR = [(22, 18, 16), (40, 30, 24), (60, 42, 30), (34, 28, 40)]
EYES = [(40, 30, 20), (70, 50, 30), (40, 80, 120), (50, 100, 60)]
SKIN = [(235, 200, 170), (215, 175, 140), (190, 145, 110), (160, 115, 85), (245, 215, 190)]


def _person(rng, role, now, family_skin):
    male = role[0] in "SF" or role == "GF"
    return dict(
        role=role, now=now, male=male, offset=rng.normal(0, PERSON_AGE_SD),
        skin=_color(rng, family_skin, 10), hair=_color(rng, HAIR[rng.integers(len(HAIR))], 12),
        eyes=EYES[rng.integers(len(EYES))], style=int(rng.integers(3)) + (0 if male else 1),
        width=rng.normal(0.82, 0.05), beard=male and rng.random() < 0.5,
        glasses=rng.random() < 0.3, hat=rng.random() < 0.2, earring=rng.random() < 0.25,
        mole=(rng.uniform(-0.3, 0.3), rng.uniform(0.1, 0.4)) if rng.random() < 0.4 else None,
        clothes=_color(rng, rng.integers(30, 226, 3), 0), accent=_color(rng, rng.integers(0, 256, 3), 0),
        bg=dict(kind=int(rng.integers(5)), c1=rng.integers(0, 256, 3), c2=rng.integers(0, 256, 3),
                period=rng.uniform(8, 30), angle=rng.uniform(0, np.pi)),
    )


_GRID = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32)


def _background(bg, rng):
    yy, xx = _GRID
    u = xx * np.cos(bg["angle"]) + yy * np.sin(bg["angle"]) + rng.uniform(0, 40)
    p = bg["period"]
    if bg["kind"] == 0:                                   # stripes
        t = (np.sin(2 * np.pi * u / p) > 0).astype(np.float32)
    elif bg["kind"] == 1:                                 # checks
        t = ((xx // p + yy // p) % 2).astype(np.float32)
    elif bg["kind"] == 2:                                 # dots
        t = (((xx % p) - p / 2) ** 2 + ((yy % p) - p / 2) ** 2 < (p / 4) ** 2).astype(np.float32)
    elif bg["kind"] == 3:                                 # smooth gradient
        t = (u - u.min()) / (np.ptp(u) + 1e-6)
    else:                                                 # rings
        t = 0.5 + 0.5 * np.sin(np.hypot(xx - 64, yy - 20) * 2 * np.pi / p)
    c1 = _color(rng, bg["c1"], 8)
    c2 = c1 + 0.5 * (_color(rng, bg["c2"], 8) - c1)     # muted: the face should dominate
    return c1 + t[..., None] * (c2 - c1)


def _rgb(c):
    return tuple(int(v) for v in c)


def _mix(a, b, t):
    """RGB tuple of ints between colours a and b (t = 0 gives a)."""
    return _rgb(np.asarray(a) * (1 - t) + np.asarray(b) * t)


def render(person, age, rng):
    """One 128×128 photo of `person` at `age` (years); all randomness comes from `rng`.

    Age cues are coarse enough to survive a 32 px downscale and graded over the whole
    life: head size and roundness, eye size and height, rosy cheeks (child), spots (teen),
    beard (adult men), forehead lines added every ~9 years from 22, crow's feet, folds,
    drooping eyelids, greying from 28, receding hair, faded skin, age spots.
    """
    a = max(0.0, age + person["offset"] + rng.normal(0, PHOTO_AGE_SD))     # apparent age
    grow = min(a, 20) / 20                                 # child → adult proportions
    grey = float(np.clip((a - 28) / 47, 0, 1))
    old = float(np.clip((a - 40) / 40, 0, 1))
    img = Image.fromarray(_background(person["bg"], rng).astype(np.uint8))
    d = ImageDraw.Draw(img)
    s = rng.normal(1, 0.07)                                # framing / camera distance
    h = (44 + 26 * grow) * s
    w = h * (person["width"] + 0.18 * (1 - grow)) * rng.normal(1, 0.03)
    cx, cy = 64 + rng.normal(0, 5), 58 + rng.normal(0, 5) + 6 * (1 - grow)
    hair = _mix(person["hair"], (210, 210, 210), grey)
    skin0 = _color(rng, person["skin"], 4)
    skin = _mix(skin0, (skin0.mean() - 10,) * 3, 0.6 * float(np.clip((a - 20) / 60, 0, 1)))
    dark = _mix(skin, (50, 30, 25), 0.55 + 0.2 * old)      # wrinkle lines
    clothes = person["clothes"] if rng.random() < 0.6 else rng.integers(30, 226, 3)
    sh = h * (0.7 + 0.5 * grow)                            # shoulder half-width
    d.ellipse((cx - sh, cy + h * 0.42, cx + sh, cy + h * 1.6), fill=_rgb(clothes))
    if person["style"] >= 2:                               # long hair behind the face
        d.ellipse((cx - w * 0.62, cy - h * 0.55, cx + w * 0.62, cy + h * 0.62), fill=hair)
    d.ellipse((cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2), fill=skin)
    recede = 0.3 * old if person["male"] else 0.0
    if not (person["male"] and a > 62 and person["style"] == 0):          # bald old men
        top = cy - h / 2 - h * 0.06
        d.chord((cx - w * 0.54, top, cx + w * 0.54, cy + h * (0.1 - recede)), 180, 360, fill=hair)
    if person["hat"] and rng.random() < 0.7:
        d.polygon([(cx - w * 0.6, cy - h * 0.38), (cx + w * 0.6, cy - h * 0.38),
                   (cx, cy - h * 0.95)], fill=_rgb(person["accent"]))
    eye_y = cy - h / 2 + h * (0.58 - 0.14 * grow)
    er = w * (0.12 - 0.04 * grow)
    lid = er * (1 - 0.4 * old)                             # eyelids droop
    glasses = person["glasses"] or (a > 45 and rng.random() < 0.4)          # reading glasses
    for side in (-1, 1):
        ex = cx + side * w * 0.22
        d.ellipse((ex - er * 1.3, eye_y - lid, ex + er * 1.3, eye_y + lid), fill=(245, 245, 245))
        d.ellipse((ex - lid * 0.7, eye_y - lid * 0.7, ex + lid * 0.7, eye_y + lid * 0.7),
                  fill=person["eyes"])
        d.line((ex - er * 1.4, eye_y - er * 2.2, ex + er * 1.4, eye_y - er * 2.0), fill=hair, width=3)
        if glasses:
            d.ellipse((ex - er * 2, eye_y - er * 1.7, ex + er * 2, eye_y + er * 1.7),
                      outline=_rgb(person["accent"]), width=2)
        if person["earring"]:
            d.ellipse((cx + side * w * 0.5 - 3, cy + 2, cx + side * w * 0.5 + 3, cy + 8),
                      fill=(230, 190, 40))
        chx, chy = cx + side * w * 0.3, cy + h * 0.12
        if a < 12:                                         # rosy cheeks
            d.ellipse((chx - 6, chy - 5, chx + 6, chy + 5),
                      fill=_mix(skin, (235, 90, 100), 0.6 * (1 - a / 12)))
        if 12 <= a <= 20:                                  # teenage spots
            for _ in range(3):
                px, py = chx + rng.uniform(-6, 6), chy + rng.uniform(-8, 4)
                d.ellipse((px - 2, py - 2, px + 2, py + 2), fill=(200, 70, 70))
        if a > 33:                                         # crow's feet
            for k in range(1 + int(a > 50)):
                yk = eye_y - er * 0.6 + k * er * 1.2
                d.line((ex + side * er * 1.5, yk, ex + side * er * 3, yk + (2 * k - 1) * 3),
                       fill=dark, width=2)
        if a > 40:                                         # nasolabial folds
            d.line((cx + side * w * 0.12, cy + h * 0.04, cx + side * w * 0.24, cy + h * 0.27),
                   fill=dark, width=3)
    for k in range(min(6, int((a - 13) // 9)) if a >= 22 else 0):          # forehead lines
        y = cy - h * (0.25 - 0.045 * k)
        d.line((cx - w * 0.28, y, cx + w * 0.28, y), fill=dark, width=3)
    d.line((cx, eye_y + er, cx - 3, cy + h * 0.12), fill=_mix(skin, (0, 0, 0), 0.3), width=2)
    mouth_y = cy + h * (0.22 + 0.04 * grow)
    d.line((cx - w * 0.15, mouth_y, cx + w * 0.15, mouth_y), fill=(150, 60, 60), width=3)
    if person["beard"] and a > 17:
        beard = float(np.clip((a - 17) / 12, 0.3, 1))
        d.chord((cx - w * 0.4, cy + h * 0.05, cx + w * 0.4, cy + h * 0.52), 0, 180,
                fill=_mix(skin, hair, beard))
    if person["mole"]:
        mx, my = cx + person["mole"][0] * w, cy + person["mole"][1] * h * 0.5
        d.ellipse((mx - 2, my - 2, mx + 2, my + 2), fill=(60, 35, 25))
    for _ in range(int(max(0.0, a - 52) / 4)):             # age spots
        sx, sy = cx + rng.uniform(-0.35, 0.35) * w, cy + rng.uniform(-0.35, 0.1) * h
        d.ellipse((sx - 2, sy - 2, sx + 2, sy + 2), fill=_mix(skin, (120, 80, 50), 0.5))
    for _ in range(2):                                     # props: make each photo distinct
        px, py, r = rng.uniform(0, SIZE), rng.uniform(0, 40), rng.uniform(4, 9)
        d.rectangle((px - r, py - r, px + r, py + r), fill=_rgb(rng.integers(0, 256, 3)))
    img = img.rotate(rng.normal(0, 6), resample=Image.BILINEAR,
                     fillcolor=_rgb(person["bg"]["c1"]))
    x = np.asarray(img, np.float32)
    light = rng.normal(1, 0.08) * rng.normal(1, 0.03, 3)   # exposure and colour cast
    ramp = np.linspace(-1, 1, SIZE, dtype=np.float32)
    shade = 1 + rng.normal(0, 0.06) * ramp[None, :, None] + rng.normal(0, 0.06) * ramp[:, None, None]
    x = x * light * shade + 7 * rng.standard_normal(x.shape, dtype=np.float32)
    return Image.fromarray(np.clip(x, 0, 255).astype(np.uint8))


def _photo_ages(rng, now, k):
    """Ages at which a person was photographed: within ALBUM_YEARS before now (albums lean
    recent) and at most 80; an age class the person lived through is drawn uniformly
    first, then an age inside it, so no class swamps the others (plain uniform ages made
    0-6 a third of the data)."""
    first, last = max(0, now - ALBUM_YEARS), min(now, 80) + 0.99
    spans = [(max(lo, first), min(hi + 0.99, last)) for lo, hi in AGE_RANGES
             if lo <= last and hi + 0.99 >= first]
    picks = rng.integers(len(spans), size=k)
    return np.array([rng.uniform(*spans[j]) for j in picks])


def _family(rng, fid, cfg):
    """Persons of one family and their photos: list of (csv row, person, photo age)."""
    n = int(rng.integers(cfg["persons_per_family"][0], cfg["persons_per_family"][1] + 1))
    skin = SKIN[rng.integers(len(SKIN))]
    parent = int(rng.integers(30, 63))
    rows = []
    for role in _roles(n, rng):
        if role in ("F", "M"):
            now = parent + int(rng.integers(-3, 4))
        elif role in ("GF", "GM"):
            now = parent + int(rng.integers(22, 35))
        else:
            now = int(rng.integers(4, min(38, parent - 18) + 1))
        person = _person(rng, role, now, skin)
        counts = {}
        k_photos = int(rng.integers(cfg["photos_per_person"][0], cfg["photos_per_person"][1] + 1))
        for age in np.sort(_photo_ages(rng, now, k_photos)):
            k = age_class(int(age))
            if rng.random() < cfg["label_noise"]:          # a neighbour class is recorded
                k = int(np.clip(k + (1 if rng.random() < 0.5 else -1), 0, len(AGE_RANGES) - 1))
            counts[k] = counts.get(k, 0) + 1
            ext = ".JPG" if rng.random() < UPPER_EXT_SHARE else ".jpg"
            name = f"{fid}_AGE_{role}_{now}_{CLASS_LETTERS[k]}{counts[k]}{ext}"
            rows.append(({"family_id": fid, "person_id": role, "age_class": CLASS_LETTERS[k],
                          "image_path": name}, person, float(age)))
    return rows


def plan(cfg):
    """Every photo to draw, per split: {split: [(csv row, person, age, rng)]}, in CSV order.

    Nothing is rendered. Each family has its own RNG stream, seeded by (seed, split,
    family number); rendering goes on drawing from it, so a plan is rendered once, in order.
    cfg: the `generate` params section, parsed here (unlearn/core/sections.py).
    """
    cfg = GenerateConfig.parse(cfg, "generate").to_dict()
    starts = family_starts(cfg["families"])
    plans = {}
    for s_index, split in enumerate(SPLITS):
        rows = []
        for number in range(starts[split], starts[split] + cfg["families"][split]):
            rng = np.random.default_rng([cfg["seed"], s_index, number])
            rows += [(row, person, age, rng) for row, person, age in _family(rng, f"F{number:04d}", cfg)]
        if not any(r["image_path"].endswith(".JPG") for r, *_ in rows):
            rows[-1][0]["image_path"] = rows[-1][0]["image_path"][:-4] + ".JPG"  # keep one
        plans[split] = rows
    return plans


def generate(dataset_dir, cfg, progress=True):
    """Write the full layout into `dataset_dir` (created); returns (image counts per split,
    the planted duplicates as unlearn.data.planted.plant_duplicates lists them).

    cfg: the `generate` params section (seed, families, persons_per_family,
    photos_per_person, label_noise, duplicates), parsed here. The caller handles atomic
    placement.
    """
    cfg = GenerateConfig.parse(cfg, "generate").to_dict()
    dataset_dir = Path(dataset_dir)
    tables = {}
    for split, rows in plan(cfg).items():
        folder = dataset_dir / images_dirname(split)
        folder.mkdir(parents=True, exist_ok=True)
        for row, person, age, rng in tqdm(rows, desc=f"generate {split}", disable=not progress or None):
            render(person, age, rng).save(folder / row["image_path"], "JPEG", quality=JPEG_QUALITY)
        tables[split] = [r for r, *_ in rows]
    planted = plant_duplicates(dataset_dir, tables, cfg["duplicates"], cfg["seed"])
    for split, rows in tables.items():
        pd.DataFrame(rows).to_csv(dataset_dir / csv_name(split))
    counts = {split: len(rows) for split, rows in tables.items()}
    return counts, planted
