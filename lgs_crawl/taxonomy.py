"""`lgs-crawl taxonomy OUT`: a category tree from breadcrumbs, and balanced label sets like LGS-117.

Normalisation rules (applied to every breadcrumb name, in order):
1. Unicode NFKC, lower case, "&" -> "and", white space collapsed, surrounding punctuation stripped.
2. Root crumbs that name the shop rather than a category are dropped wherever they lead the path
   ("home", "all products", "shop", "start", "startseite", "accueil", "inicio", "home page", ...).
3. Synonyms are mapped to one name (SYNONYMS below, e.g. "tees" -> "t-shirts", "sneaker" -> "sneakers").
4. Singular and plural merge: the plural form of the last word is used when both occur in the data
   (English rules: -ies/-y, -ses/-s, -es/-e, -s/-), so "Lamp" and "Lamps" become "lamps".
"""

from __future__ import annotations

import json
import random
import re
import unicodedata
from collections import Counter, defaultdict
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from lgs_crawl.dataset import read_metadata

ROOTS = {"home", "all products", "all", "shop", "start", "startseite", "accueil", "inicio", "home page",
         "homepage", "products", "catalog", "catalogue", "store", "index", "page d'accueil", "pagina iniziale"}
SYNONYMS = {"tees": "t-shirts", "tee shirts": "t-shirts", "t shirts": "t-shirts", "sneaker": "sneakers",
            "trainers": "sneakers", "mobile cases": "phone cases", "cell phone cases": "phone cases",
            "soft toys": "plush toys", "stuffed animals": "plush toys", "cups": "mugs",
            "pillows": "cushions", "earphones": "headphones", "jumpers": "sweaters"}


def clean(name: str) -> str:
    name = unicodedata.normalize("NFKC", name).lower().replace("&", " and ")
    name = re.sub(r"\s+", " ", name).strip(" \t-–—>|/:;,.")
    return SYNONYMS.get(name, name)


def _singular(word: str) -> str:
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(("ses", "xes", "ches", "shes")):
        return word[:-2]
    if word.endswith("s") and not word.endswith("ss") and len(word) > 3:
        return word[:-1]
    return word


def normalise_paths(paths: list[list[str]]) -> list[tuple[str, ...]]:
    cleaned = []
    for path in paths:
        names = [clean(n) for n in path if n and clean(n)]
        while names and names[0] in ROOTS:
            names.pop(0)
        cleaned.append(names)
    # singular/plural: map each name's singular form to the most frequent spelling seen, plural first
    forms: dict[str, Counter[str]] = defaultdict(Counter)
    for names in cleaned:
        for n in names:
            head, _, last = n.rpartition(" ")
            forms[f"{head} {_singular(last)}".strip()][n] += 1
    canonical = {}
    for variants in forms.values():
        best = max(variants, key=lambda v: (v.endswith("s"), variants[v], v))
        for v in variants:
            canonical[v] = best
    return [tuple(canonical[n] for n in names) for names in cleaned]


def build(out: Path) -> dict:
    meta = read_metadata(out, ["key", "breadcrumbs"]).to_pylist()
    paths = normalise_paths([m["breadcrumbs"] or [] for m in meta])
    tree: dict = {"name": "", "count": 0, "children": {}}
    for path in paths:
        node = tree
        node["count"] += 1
        for name in path:
            node = node["children"].setdefault(name, {"name": name, "count": 0, "children": {}})
            node["count"] += 1

    def listify(node: dict) -> dict:
        return {"name": node["name"], "count": node["count"],
                "children": sorted((listify(c) for c in node["children"].values()), key=lambda c: -c["count"])}

    (out / "taxonomy.json").write_text(json.dumps(listify(tree), indent=2, ensure_ascii=False))
    pq.write_table(pa.Table.from_pylist(
        [{"key": m["key"], "category_path": list(p), "label": p[-1] if p else ""} for m, p in zip(meta, paths)],
        schema=pa.schema([("key", pa.string()), ("category_path", pa.list_(pa.string())), ("label", pa.string())])),
        out / "taxonomy.parquet")
    return listify(tree)


def label_set(out: Path, min_per_class: int, val_share: float = 0.2, seed: int = 0) -> pa.Table:
    """Classes (normalised leaf categories) with at least min_per_class samples, each sampled down to
    min_per_class (seeded), split train/val within each class; written to OUT/labels-N.parquet."""
    tax = pq.read_table(out / "taxonomy.parquet").to_pylist()
    by_label: dict[str, list[str]] = defaultdict(list)
    for row in tax:
        if row["label"]:
            by_label[row["label"]].append(row["key"])
    classes = sorted(label for label, keys in by_label.items() if len(keys) >= min_per_class)
    rng = random.Random(seed)
    rows = []
    for label_id, label in enumerate(classes):
        keys = rng.sample(sorted(by_label[label]), min_per_class)
        n_val = round(val_share * min_per_class)
        for i, key in enumerate(keys):
            rows.append({"key": key, "label": label, "label_id": label_id, "split": "val" if i < n_val else "train"})
    table = pa.Table.from_pylist(rows, schema=pa.schema([("key", pa.string()), ("label", pa.string()),
                                                         ("label_id", pa.int32()), ("split", pa.string())]))
    pq.write_table(table, out / f"labels-{min_per_class}.parquet")
    return table
