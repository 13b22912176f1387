"""MultiDict (query strings) and CIMultiDict (headers): ordered, several values per key."""

from __future__ import annotations

import pytest

from service.web.multidict import CIMultiDict, MultiDict

PAIRS = [("a", "1"), ("b", "2"), ("a", "3")]


@pytest.mark.parametrize("cls", [MultiDict, CIMultiDict])
def test_keeps_every_pair_in_arrival_order(cls: type[MultiDict]) -> None:
    d = cls(PAIRS)
    assert d.items() == PAIRS
    assert list(d) == ["a", "b", "a"]
    assert list(d.keys()) == ["a", "b", "a"]
    assert len(d) == 3


@pytest.mark.parametrize("cls", [MultiDict, CIMultiDict])
def test_values_line_up_with_items(cls: type[MultiDict]) -> None:
    d = cls(PAIRS)
    assert list(d.values()) == [v for _, v in d.items()] == ["1", "2", "3"]


@pytest.mark.parametrize("cls", [MultiDict, CIMultiDict])
def test_first_value_and_all_values(cls: type[MultiDict]) -> None:
    d = cls(PAIRS)
    assert d["a"] == "1"
    assert d.getone("a") == "1"
    assert d.getall("a") == ["1", "3"]
    assert d.getall("b") == ["2"]
    assert d.get("a") == "1"


@pytest.mark.parametrize("cls", [MultiDict, CIMultiDict])
def test_missing_key(cls: type[MultiDict]) -> None:
    d = cls(PAIRS)
    with pytest.raises(KeyError):
        d["missing"]
    with pytest.raises(KeyError):
        d.getone("missing")
    with pytest.raises(KeyError):
        d.getall("missing")
    assert d.getone("missing", None) is None
    assert d.getone("missing", "x") == "x"
    assert d.getall("missing", []) == []
    assert d.getall("missing", ["x"]) == ["x"]
    assert d.get("missing") is None
    assert d.get("missing", "x") == "x"
    assert "missing" not in d


@pytest.mark.parametrize("cls", [MultiDict, CIMultiDict])
def test_empty_values_are_values(cls: type[MultiDict]) -> None:
    d = cls([("flag", "")])
    assert "flag" in d
    assert d["flag"] == ""
    assert d.getone("flag", "default") == ""


@pytest.mark.parametrize(
    ("source", "items"),
    [
        pytest.param(None, [], id="nothing"),
        pytest.param([], [], id="empty-list"),
        pytest.param({"x": "1", "y": "2"}, [("x", "1"), ("y", "2")], id="dict"),
        pytest.param(iter([("x", "1"), ("x", "2")]), [("x", "1"), ("x", "2")], id="iterator"),
        pytest.param(MultiDict(PAIRS), PAIRS, id="another-multidict-keeps-duplicates"),
    ],
)
def test_construction(source: object, items: list[tuple[str, str]]) -> None:
    assert MultiDict(source).items() == items  # type: ignore[arg-type]


def test_add_and_extend_append() -> None:
    d = MultiDict([("a", "1")])
    d.add("a", "2")
    d.extend([("b", "3"), ("a", "4")])
    d.extend({"c": "5"})
    assert d.items() == [("a", "1"), ("a", "2"), ("b", "3"), ("a", "4"), ("c", "5")]


def test_setitem_replaces_every_value_at_the_first_position() -> None:
    d = MultiDict([("a", "1"), ("b", "2"), ("a", "3"), ("c", "4")])
    d["a"] = "new"
    assert d.items() == [("a", "new"), ("b", "2"), ("c", "4")]


def test_setitem_of_a_new_key_appends() -> None:
    d = MultiDict([("a", "1")])
    d["z"] = "26"
    assert d.items() == [("a", "1"), ("z", "26")]


def test_delitem_removes_every_value() -> None:
    d = MultiDict(PAIRS)
    del d["a"]
    assert d.items() == [("b", "2")]
    with pytest.raises(KeyError):
        del d["a"]


def test_mutable_mapping_helpers() -> None:
    d = MultiDict([("a", "1")])
    assert d.setdefault("a", "x") == "1"
    assert d.setdefault("b", "2") == "2"
    d.update({"a": "10"})
    assert d.items() == [("a", "10"), ("b", "2")]
    assert d.pop("a") == "10"
    assert d.pop("a", None) is None
    assert d.items() == [("b", "2")]
    d.clear()
    assert len(d) == 0
    assert not d


def test_contains_only_strings() -> None:
    d = MultiDict([("1", "x")])
    assert "1" in d
    assert 1 not in d  # type: ignore[comparison-overlap]
    assert None not in d


def test_copy_is_independent_and_keeps_the_type() -> None:
    original = CIMultiDict(PAIRS)
    copy = original.copy()
    assert type(copy) is CIMultiDict
    copy.add("c", "4")
    copy["a"] = "changed"
    assert original.items() == PAIRS
    assert copy.items() == [("a", "changed"), ("b", "2"), ("c", "4")]


@pytest.mark.parametrize(
    ("left", "right", "equal"),
    [
        pytest.param(MultiDict(PAIRS), MultiDict(PAIRS), True, id="same-pairs"),
        pytest.param(
            MultiDict([("a", "1"), ("b", "2")]),
            MultiDict([("b", "2"), ("a", "1")]),
            False,
            id="order-matters",
        ),
        pytest.param(MultiDict([("a", "1")]), {"a": "1"}, True, id="plain-dict"),
        pytest.param(MultiDict([("a", "1")]), {"a": "2"}, False, id="plain-dict-other-value"),
        pytest.param(MultiDict(PAIRS), {"a": "1", "b": "2"}, False, id="duplicates-vs-dict"),
        pytest.param(MultiDict(), {}, True, id="empty"),
    ],
)
def test_equality(left: MultiDict, right: object, equal: bool) -> None:
    assert (left == right) is equal
    assert (left != right) is not equal


def test_equality_with_a_non_mapping_is_false() -> None:
    assert MultiDict() != []
    assert MultiDict([("a", "1")]) != "a"


def test_repr_shows_the_pairs() -> None:
    assert repr(MultiDict([("a", "1")])) == "MultiDict([('a', '1')])"
    assert repr(CIMultiDict([("A", "1")])) == "CIMultiDict([('A', '1')])"


# -- case-insensitivity ---------------------------------------------------------------------------
@pytest.mark.parametrize("spelling", ["Content-Type", "content-type", "CONTENT-TYPE", "cOnTeNt-TyPe"])
def test_ci_lookup_ignores_case(spelling: str) -> None:
    d = CIMultiDict([("Content-Type", "text/plain")])
    assert spelling in d
    assert d[spelling] == "text/plain"
    assert d.getall(spelling) == ["text/plain"]
    assert d.get(spelling) == "text/plain"


def test_ci_keeps_the_original_spelling() -> None:
    d = CIMultiDict([("X-Request-Id", "1")])
    d.add("x-request-id", "2")
    assert list(d) == ["X-Request-Id", "x-request-id"]
    assert d.getall("X-REQUEST-ID") == ["1", "2"]


def test_ci_setitem_replaces_all_spellings_and_uses_the_new_one() -> None:
    d = CIMultiDict([("Set-Cookie", "a=1"), ("Vary", "Accept"), ("set-cookie", "b=2")])
    d["SET-COOKIE"] = "c=3"
    assert d.items() == [("SET-COOKIE", "c=3"), ("Vary", "Accept")]


def test_ci_delitem_removes_all_spellings() -> None:
    d = CIMultiDict([("Vary", "Accept"), ("VARY", "Origin"), ("Allow", "GET")])
    del d["vary"]
    assert d.items() == [("Allow", "GET")]


def test_plain_multidict_is_case_sensitive() -> None:
    d = MultiDict([("Key", "1")])
    assert "key" not in d
    assert d.get("key") is None
    d["key"] = "2"
    assert d.items() == [("Key", "1"), ("key", "2")]
