"""The names of the adapt methods, as shown in tables, figures and messages."""

from __future__ import annotations

LABELS = {
    "dann": "DANN (GRL)",
    "no-grl": "DANN without GRL",
    "source-only": "source only",
    "target-only": "train on target (upper bound, uses target labels)",
    "pseudo": "pseudo-labelling (source + confident target predictions)",
}
METHODS = ("dann", "no-grl", "source-only", "target-only")
