"""Short codes: alphabet, entropy, the check character and how typed input is read."""

from collections import Counter

from hypothesis import given
from hypothesis import strategies as st

from vouchers.codes import (
    ALPHABET,
    CODE_LENGTH,
    RANDOM_CHARS,
    check_character,
    format_code,
    new_code,
    normalize_code,
)

payloads = st.text(alphabet=ALPHABET, min_size=RANDOM_CHARS, max_size=RANDOM_CHARS)
# What a person may type for each character they read: either case, and O for 0, I or L for 1.
TYPED_AS = {ch: [ch, ch.lower()] for ch in ALPHABET} | {"0": ["0", "O", "o"], "1": ["1", "I", "i", "L", "l"]}


def test_codes_use_the_unambiguous_alphabet_and_carry_65_random_bits():
    codes = {new_code() for _ in range(2000)}
    assert len(codes) == 2000
    assert all(len(code) == CODE_LENGTH for code in codes)
    assert not set("".join(codes)) - set(ALPHABET)
    assert len(set(ALPHABET)) == 32 and not set("ILOU") & set(ALPHABET)
    # 65 bits: each of the 13 random positions takes every one of the 32 symbols (5 bits each)
    # across the sample (a position that missed one in 2000 draws would be a 1-in-10^26 event);
    # the last character is the check, computed from the others.
    for position in range(RANDOM_CHARS):
        seen = Counter(code[position] for code in codes)
        assert set(seen) == set(ALPHABET), (position, sorted(set(ALPHABET) - set(seen)))
    assert all(code[-1] == check_character(code[:-1]) for code in codes)


@given(payloads, st.data())
def test_a_code_survives_the_way_people_type_it(payload, data):
    code = payload + check_character(payload)
    assert normalize_code(code) == code
    assert normalize_code(format_code(code).lower()) == code
    assert normalize_code(" " + format_code(code).replace("-", " ") + " ") == code
    assert normalize_code(code.replace("0", "O").replace("1", "I")) == code
    # Any mix of the above, character by character, with spaces or dashes anywhere between.
    typed = "".join(
        data.draw(st.sampled_from(TYPED_AS[ch])) + data.draw(st.sampled_from(["", "", " ", "-"]))
        for ch in code
    )
    assert normalize_code(data.draw(st.sampled_from(["", " "])) + typed) == code


@given(payloads, st.data())
def test_every_single_mistyped_character_is_caught(payload, data):
    code = payload + check_character(payload)
    position = data.draw(st.integers(min_value=0, max_value=CODE_LENGTH - 1))
    wrong = data.draw(st.sampled_from([ch for ch in ALPHABET if ch != code[position]]))
    assert normalize_code(code[:position] + wrong + code[position + 1 :]) is None


def test_garbage_is_not_a_code():
    for typed in ["", "   ", "U" * 14, "ABC", "é" * 14, "0" * 200, "\x00" * 14]:
        assert normalize_code(typed) is None
