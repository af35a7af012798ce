"""Short voucher codes: Crockford base32 (no I, L, O, U), 65 random bits, and a check character.

Hand-written because it is 40 lines and the libraries on PyPI either use Crockford's check
symbols (*~$=U, which are awkward to type and to read aloud) or skip the check entirely.
The check is Luhn mod 32 over the same alphabet: it catches every single mistyped character
and every swap of two neighbours except 0 and Z.
"""

from __future__ import annotations

import secrets

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_VALUE = {ch: i for i, ch in enumerate(ALPHABET)}
# Crockford's reading rules: what a person may type for what they saw.
_READ_AS = str.maketrans({"O": "0", "I": "1", "L": "1"})
RANDOM_CHARS = 13  # 13 × 5 = 65 random bits
CODE_LENGTH = RANDOM_CHARS + 1
BASE = len(ALPHABET)


def check_character(payload: str) -> str:
    total = 0
    factor = 2
    for ch in reversed(payload):
        addend = factor * _VALUE[ch]
        total += addend // BASE + addend % BASE
        factor = 1 if factor == 2 else 2
    return ALPHABET[(BASE - total % BASE) % BASE]


def new_code() -> str:
    payload = "".join(secrets.choice(ALPHABET) for _ in range(RANDOM_CHARS))
    return payload + check_character(payload)


def normalize_code(typed: str) -> str | None:
    """The canonical code for what a person typed (any case, spaces, dashes), or None if it cannot be one."""
    if len(typed) > 64:
        return None
    cleaned = "".join(ch for ch in typed.upper() if ch not in " -\t").translate(_READ_AS)
    if len(cleaned) != CODE_LENGTH or any(ch not in _VALUE for ch in cleaned):
        return None
    if check_character(cleaned[:-1]) != cleaned[-1]:
        return None
    return cleaned


def format_code(code: str) -> str:
    """XXXX-XXXX-XXXX-XX: easier to read out at a till."""
    return "-".join(code[i : i + 4] for i in range(0, len(code), 4))
