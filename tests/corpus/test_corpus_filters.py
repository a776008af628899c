"""Filters pick exactly the papers asked for, and sampling is reproducible by seed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from disentangle.corpus import CorpusFilter, load_corpus, parse_year_range, read_id_list
from disentangle.errors import DisentangleError

# (id, categories with the primary first, year, abstract length)
PAPERS = [
    ("p0", ["astro-ph.GA", "cs.LG"], 2008, 50),
    ("p1", ["cs.LG", "astro-ph.IM"], 2012, 200),
    ("p2", ["astro-ph"], 2015, 300),
    ("p3", ["cs.CL"], 2017, 400),
    ("p4", ["stat.ML", "cs.LG"], None, 500),
    ("p5", ["astro-phx.XX"], 2010, 600),
]


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    path = tmp_path / "c.jsonl"
    lines = []
    for paper_id, categories, year, length in PAPERS:
        record = {"id": paper_id, "title": "T", "abstract": "a" * length, "categories": categories}
        if year is not None:
            record["date"] = f"{year}-06-01"
        lines.append(json.dumps(record))
    path.write_text("\n".join(lines) + "\n")
    return path


def ids(path: Path, **options: object) -> list[str]:
    return load_corpus(path, filters=CorpusFilter(**options)).table.column("id").to_pylist()


def test_category_terms_match_exactly_or_as_prefix_before_a_dot(corpus: Path) -> None:
    assert ids(corpus, categories=("astro-ph",)) == ["p0", "p1", "p2"]
    assert ids(corpus, categories=("cs",)) == ["p0", "p1", "p3", "p4"]
    assert ids(corpus, categories=("cs.LG",)) == ["p0", "p1", "p4"]
    with pytest.raises(DisentangleError, match="no papers left"):
        ids(corpus, categories=("cs.L",))  # a prefix must end at a dot
    assert ids(corpus, categories=("stat.ML", "astro-ph.GA")) == ["p0", "p4"]


def test_primary_only_looks_at_the_primary_category(corpus: Path) -> None:
    assert ids(corpus, categories=("astro-ph",), primary_only=True) == ["p0", "p2"]
    assert ids(corpus, categories=("cs.LG",), primary_only=True) == ["p1"]


def test_years_are_inclusive_and_exclude_unknown_years(corpus: Path) -> None:
    assert ids(corpus, years=(2010, 2015)) == ["p1", "p2", "p5"]
    assert ids(corpus, years=(2017, 2017)) == ["p3"]


def test_min_abstract_chars_and_ids(corpus: Path) -> None:
    assert ids(corpus, min_abstract_chars=300) == ["p2", "p3", "p4", "p5"]
    assert ids(corpus, ids=frozenset({"p3", "p1", "absent"})) == ["p1", "p3"]


def test_sample_is_seeded_and_kept_in_file_order(corpus: Path) -> None:
    draws = {tuple(ids(corpus, sample=3, seed=seed)) for seed in range(8)}
    assert len(draws) > 1
    for draw in draws:
        assert len(draw) == 3 and list(draw) == sorted(draw)
    assert ids(corpus, sample=3, seed=5) == ids(corpus, sample=3, seed=5)
    assert ids(corpus, sample=100) == [p[0] for p in PAPERS]


def test_limit_keeps_the_first_rows_after_filtering(corpus: Path) -> None:
    assert ids(corpus, limit=2) == ["p0", "p1"]
    assert ids(corpus, categories=("cs",), limit=3) == ["p0", "p1", "p3"]
    sampled = ids(corpus, sample=4, seed=1)
    assert ids(corpus, sample=4, seed=1, limit=2) == sampled[:2]


def test_counts_add_up(corpus: Path) -> None:
    report = load_corpus(corpus, filters=CorpusFilter(categories=("cs",), sample=2))
    assert report.table.num_rows == 2
    assert report.filtered_out == 4 and report.read == 6


def test_parse_year_range() -> None:
    assert parse_year_range("2010-2017") == (2010, 2017)
    assert parse_year_range(" 2015 ") == (2015, 2015)
    for text in ("2017-2010", "15", "2010-", "twenty", "2010-2012-2014"):
        with pytest.raises(DisentangleError):
            parse_year_range(text)


def test_invalid_filter_values_are_rejected() -> None:
    with pytest.raises(DisentangleError):
        CorpusFilter(limit=0)
    with pytest.raises(DisentangleError):
        CorpusFilter(years=(2017, 2010))


def test_id_list_that_is_not_utf8_names_its_line(tmp_path: Path) -> None:
    path = tmp_path / "ids.txt"
    path.write_bytes(b"p1\n\np2\np\xff3\n")
    with pytest.raises(DisentangleError, match=r"ids\.txt: line 4 is not UTF-8"):
        read_id_list(path)
    path.write_bytes(b"p1\n\n p2 \n")
    assert read_id_list(path) == {"p1", "p2"}
