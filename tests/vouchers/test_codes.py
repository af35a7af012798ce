"""Short codes: alphabet, entropy, the check character and how typed input is read."""

from hypothesis import given
from hypothesis import strategies as st

from vouchers.codes import ALPHABET, CODE_LENGTH, format_code, new_code, normalize_code


def test_codes_use_the_unambiguous_alphabet_and_carry_65_random_bits():
    codes = {new_code() for _ in range(2000)}
    assert len(codes) == 2000
    assert all(len(code) == CODE_LENGTH for code in codes)
    assert not set("".join(codes)) - set(ALPHABET)
    assert not set("ILOU") & set(ALPHABET)
    assert (CODE_LENGTH - 1) * 5 >= 60


@given(st.integers(min_value=0, max_value=10_000))
def test_a_code_survives_the_way_people_type_it(_seed):
    code = new_code()
    assert normalize_code(code) == code
    assert normalize_code(format_code(code).lower()) == code
    assert normalize_code(" " + format_code(code).replace("-", " ") + " ") == code
    assert normalize_code(code.replace("0", "O").replace("1", "I")) == code


@given(st.data())
def test_every_single_mistyped_character_is_caught(data):
    code = new_code()
    position = data.draw(st.integers(min_value=0, max_value=CODE_LENGTH - 1))
    wrong = data.draw(st.sampled_from([ch for ch in ALPHABET if ch != code[position]]))
    assert normalize_code(code[:position] + wrong + code[position + 1 :]) is None


def test_garbage_is_not_a_code():
    for typed in ["", "   ", "U" * 14, "ABC", "é" * 14, "0" * 200, "\x00" * 14]:
        assert normalize_code(typed) is None
