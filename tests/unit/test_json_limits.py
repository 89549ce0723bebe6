"""How deep a JSON body nests is told without parsing it, brackets in strings aside, and never raises."""

import json
import random

import pytest

from api.json_limits import MAX_JSON_DEPTH, nesting_too_deep


def deep_array(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


def deep_object(depth: int) -> bytes:
    return b'{"a": ' * depth + b"1" + b"}" * depth


def depth_of(value: object) -> int:
    if isinstance(value, list):
        return 1 + max(map(depth_of, value), default=0)
    if isinstance(value, dict):
        return 1 + max(map(depth_of, value.values()), default=0)
    return 0


def random_value(rng: random.Random, budget: int) -> object:
    """Arrays, objects and strings full of brackets, quotes and backslashes, nested up to `budget` deep."""
    kind = rng.choice(["array", "object", "text", "number"] if budget else ["text", "number"])
    if kind == "array":
        return [random_value(rng, budget - 1) for _ in range(rng.randint(0, 3))]
    if kind == "object":
        return {rng.choice('[]{}"\\ab'): random_value(rng, budget - 1) for _ in range(rng.randint(0, 3))}
    if kind == "text":
        return "".join(rng.choice('[]{}"\\/\n é') for _ in range(rng.randint(0, 6)))
    return rng.randint(-5, 5)


@pytest.mark.parametrize("body", [deep_array(MAX_JSON_DEPTH + 1), deep_array(1000), deep_array(100_000)])
def test_arrays_nested_deeper_than_the_limit_are_too_deep(body: bytes) -> None:
    assert nesting_too_deep(body)


@pytest.mark.parametrize("body", [deep_object(MAX_JSON_DEPTH + 1), deep_object(1000)])
def test_objects_nested_deeper_than_the_limit_are_too_deep(body: bytes) -> None:
    assert nesting_too_deep(body)


def test_nesting_exactly_at_the_limit_is_allowed_and_one_more_level_is_not() -> None:
    assert not nesting_too_deep(deep_array(MAX_JSON_DEPTH))
    assert not nesting_too_deep(deep_object(MAX_JSON_DEPTH))
    assert nesting_too_deep(b"[" + deep_object(MAX_JSON_DEPTH) + b"]")
    assert not nesting_too_deep(deep_array(3), limit=3)
    assert nesting_too_deep(deep_array(4), limit=3)


def test_the_deepest_branch_counts_not_the_number_of_containers() -> None:
    wide = json.dumps([[[[]]] for _ in range(10_000)]).encode()  # depth 4, many siblings

    assert not nesting_too_deep(wide, limit=4)
    assert nesting_too_deep(wide, limit=3)


def test_brackets_inside_strings_do_not_count() -> None:
    assert not nesting_too_deep(json.dumps(["[" * 1000, "{" * 1000]).encode())
    assert not nesting_too_deep(json.dumps({"[" * 1000: "]" * 1000}).encode())


def test_an_escaped_quote_does_not_end_a_string() -> None:
    hidden = json.dumps(['" ' + "[" * 1000]).encode()  # ["\" [[[[..."]
    assert b'\\"' in hidden

    assert not nesting_too_deep(hidden)


def test_a_string_ending_in_an_escaped_backslash_ends_there() -> None:
    # ["\\", [[[...]]]]: the quote after the two backslashes closes the string, so the arrays after it count.
    body = b'["\\\\", ' + deep_array(MAX_JSON_DEPTH) + b"]"
    assert json.loads(body)[0] == "\\"

    assert nesting_too_deep(body)
    assert not nesting_too_deep(b'["\\\\", ' + deep_array(MAX_JSON_DEPTH - 1) + b"]")


def test_random_json_is_too_deep_exactly_when_it_nests_deeper_than_the_limit() -> None:
    rng = random.Random(20261130)
    for _ in range(300):
        value = random_value(rng, budget=8)
        body = json.dumps(value, ensure_ascii=rng.random() < 0.5).encode()
        limit = rng.randint(0, 8)

        assert nesting_too_deep(body, limit=limit) == (depth_of(value) > limit), body


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be", "utf-32"])
def test_utf_16_and_utf_32_bodies_are_read_as_json_reads_them(encoding: str) -> None:
    # json.loads accepts these encodings, so their brackets nest just as deep.
    assert nesting_too_deep(deep_array(1000).decode().encode(encoding))
    assert not nesting_too_deep(json.dumps(["[" * 1000]).encode(encoding))


@pytest.mark.parametrize(
    "body",
    [b"", b"not json", b"\xff\xfe\x00", b"\\", b'"', b'"unterminated [[[', b"]]]]]]", b"[}", b'["\\', b"{[}]"],
    ids=repr,
)
def test_invalid_json_is_answered_without_raising(body: bytes) -> None:
    assert nesting_too_deep(body) is False


def test_brackets_left_open_count_because_a_parser_descends_into_them() -> None:
    with pytest.raises(RecursionError):
        json.loads(b"[" * 100_000)

    assert nesting_too_deep(b"[" * 100_000)
    assert nesting_too_deep(b'{"a": [' * 40)
    assert not nesting_too_deep(b"[" * MAX_JSON_DEPTH)


def test_an_8_mib_body_is_checked_whatever_its_shape() -> None:
    size = 8 * 1024 * 1024
    at_the_limit = deep_array(MAX_JSON_DEPTH) + b","
    many_deep_arrays = b"[" + at_the_limit * (size // len(at_the_limit)) + b"[]]"
    many_strings = b"[" + b'"[", ' * (size // 5) + b"1]"
    one_long_string = b'["' + b"\\\\" * (size // 2) + b'"]'

    assert nesting_too_deep(many_deep_arrays)
    assert not nesting_too_deep(many_deep_arrays, limit=MAX_JSON_DEPTH + 1)
    assert not nesting_too_deep(many_strings)
    assert not nesting_too_deep(one_long_string)
    assert nesting_too_deep(b"[" * size)
