"""Input names of any content for ``--dask``: told apart as URL or path, and URLs labelled, never a crash; distinct
URLs keep distinct labels."""

from __future__ import annotations

from hypothesis import example, given, settings
from hypothesis import strategies as st

from inspector.distributed import _url_labels, is_url

TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=60)
SCHEMES = st.sampled_from(["s3", "abfs", "memory", "gs", "az", "http"])


@settings(max_examples=300, deadline=None)
@given(TEXT)
def test_any_name_is_a_url_or_a_path(name: str) -> None:
    assert isinstance(is_url(name), bool)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(SCHEMES, TEXT.filter(lambda t: "://" not in t)), min_size=1, max_size=6))
@example([("s3", "x/a/./b"), ("s3", "x/a/b")])
@example([("s3", "x/a//b"), ("s3", "x/a/b"), ("s3", "x/")])
def test_urls_get_one_label_each_and_distinct_urls_distinct_labels(given_urls: list[tuple[str, str]]) -> None:
    scheme = given_urls[0][0]
    urls = sorted({f"{scheme}://{path}" for _, path in given_urls})
    labels = _url_labels(urls)
    assert len(labels) == len(urls)
    assert len(set(labels)) == len(urls)
