"""Kubernetes resource quantities (`100m`, `128Mi`, `1.5`, `2e3`): syntax and value."""

from __future__ import annotations

import decimal
import re
from decimal import Decimal

_QUANTITY = re.compile(r"([+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E|[eE][+-]?[0-9]+)?")
MAX_QUANTITY = 2**63 - 1
"""Kubernetes holds a quantity's value in an int64."""
_SUFFIX = {
    "": Decimal(1),
    "n": Decimal("1e-9"),
    "u": Decimal("1e-6"),
    "m": Decimal("1e-3"),
    "k": Decimal("1e3"),
    "M": Decimal("1e6"),
    "G": Decimal("1e9"),
    "T": Decimal("1e12"),
    "P": Decimal("1e15"),
    "E": Decimal("1e18"),
    **{binary: Decimal(1024) ** (power + 1) for power, binary in enumerate(["Ki", "Mi", "Gi", "Ti", "Pi", "Ei"])},
}


def parse_quantity(text: str) -> Decimal:
    """The quantity's value in base units (cores, bytes); ValueError if Kubernetes would refuse it."""
    match = _QUANTITY.fullmatch(text)
    if not match:
        raise ValueError("must be a Kubernetes quantity such as 250m, 0.5, 128Mi or 1Gi")
    number, suffix = match.group(1), match.group(2) or ""
    try:
        # `Ei` and `E` are suffixes; `E3` and `e3` are exponents.
        value = Decimal(number) * (_SUFFIX[suffix] if suffix in _SUFFIX else Decimal(10) ** int(suffix[1:]))
    except decimal.Overflow:
        value = None
    if value is None or value > MAX_QUANTITY:
        raise ValueError(f"must be at most {MAX_QUANTITY} (what a Kubernetes quantity holds)")
    return value
