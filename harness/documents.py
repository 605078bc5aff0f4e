"""JSON documents for the HTTP and JSON workloads, generated from a fixed seed so every
run, process and environment sends the same bytes.

The article's document is 1,000 keys ``key_i`` with random floats (31,136 bytes in its
run); the other sizes are the same kind of document with more or fewer keys.
"""

from __future__ import annotations

import json
import random

SEED = 20240905  # fixed: the documents are part of the workload definition
ARTICLE_KEYS = 1000
# Keys per nominal size, chosen so the stdlib's json.dumps output is close to the name.
SIZES = {"1KB": 33, "31KB": ARTICLE_KEYS, "1MB": 31_800}


def float_document(keys: int, seed: int = SEED) -> dict[str, float]:
    """``{"key_0": <float>, ..., "key_<keys-1>": <float>}`` from a seeded generator."""
    if keys < 1:
        raise ValueError(f"a document needs at least one key, got {keys}")
    rng = random.Random(seed)
    return {f"key_{i}": rng.random() for i in range(keys)}


def article_document() -> dict[str, float]:
    """The article's LARGE_JSON: 1,000 keys of random floats, ~31 KB as JSON."""
    return float_document(ARTICLE_KEYS)


def document(size_name: str) -> dict[str, float]:
    """The document for a nominal size in SIZES ('1KB', '31KB', '1MB')."""
    if size_name not in SIZES:
        raise ValueError(f"unknown document size {size_name!r}; known: {', '.join(SIZES)}")
    return float_document(SIZES[size_name])


def encoded_size(doc: object) -> int:
    return len(json.dumps(doc))
