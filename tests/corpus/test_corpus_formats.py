"""Every input format and arXiv layout loads into the same table; bad rows fail or are skipped."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from disentangle.corpus import CORPUS_SCHEMA, CorpusFilter, FieldMap, load_corpus
from disentangle.errors import DisentangleError

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"

PAPERS = [
    {
        "id": "1501.00001",
        "title": "Dark  matter\n halos",
        "abstract": "We study\nhalos.",
        "categories": ["astro-ph.GA", "astro-ph.CO"],
        "date": "2015-01-02",
        "year": 2015,
    },
    {
        "id": "1601.00002",
        "title": "Sparse codes",
        "abstract": "Dictionary learning.",
        "categories": ["cs.LG", "stat.ML"],
        "primary_category": "stat.ML",
        "date": "2016-03-04",
    },
]
EXPECTED = [
    {
        "id": "1501.00001",
        "title": "Dark matter halos",
        "abstract": "We study halos.",
        "categories": ["astro-ph.GA", "astro-ph.CO"],
        "primary_category": "astro-ph.GA",
        "year": 2015,
        "date": "2015-01-02",
    },
    {
        "id": "1601.00002",
        "title": "Sparse codes",
        "abstract": "Dictionary learning.",
        "categories": ["cs.LG", "stat.ML"],
        "primary_category": "stat.ML",
        "year": 2016,
        "date": "2016-03-04",
    },
]


def write_jsonl(path: Path, records: list[dict | str]) -> Path:
    lines = [r if isinstance(r, str) else json.dumps(r) for r in records]
    data = ("\n".join(lines) + "\n").encode()
    path.write_bytes(gzip.compress(data) if path.suffix == ".gz" else data)
    return path


@pytest.mark.parametrize("name", ["c.jsonl", "c.jsonl.gz", "c.json"])
def test_json_lines_variants(tmp_path: Path, name: str) -> None:
    report = load_corpus(write_jsonl(tmp_path / name, PAPERS))
    assert report.table.schema == CORPUS_SCHEMA
    assert report.table.to_pylist() == EXPECTED
    assert (report.read, report.skipped_bad, report.duplicates, report.filtered_out) == (2, 0, 0, 0)


def test_csv_with_list_valued_categories_and_gzip(tmp_path: Path) -> None:
    header = "id,title,abstract,categories,primary_category,date,year\n"
    body = (
        '1501.00001,"Dark  matter\n halos","We study\nhalos.",'
        "\"['astro-ph.GA', 'astro-ph.CO']\",,2015-01-02,2015\n"
        '1601.00002,Sparse codes,Dictionary learning.,"cs.LG, stat.ML",stat.ML,2016-03-04,\n'
    )
    plain = tmp_path / "c.csv"
    plain.write_text(header + body)
    packed = tmp_path / "c.csv.gz"
    packed.write_bytes(gzip.compress((header + body).encode()))
    for path in (plain, packed):
        assert load_corpus(path).table.to_pylist() == EXPECTED


def test_csv_keeps_numeric_looking_ids_as_text(tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    path.write_text("id,title,abstract,categories\n0704.0010,T,A,math.CO\n")
    assert load_corpus(path).table.column("id").to_pylist() == ["0704.0010"]


def test_parquet(tmp_path: Path) -> None:
    path = tmp_path / "c.parquet"
    columns = {key: [paper.get(key) for paper in PAPERS] for key in PAPERS[1] | PAPERS[0]}
    pq.write_table(pa.table(columns), path)
    assert load_corpus(path).table.to_pylist() == EXPECTED


def test_format_override_beats_extension(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "papers.txt", PAPERS)
    with pytest.raises(DisentangleError, match="--format"):
        load_corpus(path)
    assert load_corpus(path, format="jsonl").table.num_rows == 2


def test_kaggle_snapshot_layout(tmp_path: Path) -> None:
    kaggle = {
        "id": "0704.0001",
        "title": "Calculation of prompt diphoton\n  production",
        "abstract": "  A fully differential calculation\nin perturbative QCD.\n",
        "categories": "hep-ph astro-ph.GA",
        "versions": [
            {"version": "v1", "created": "Mon, 2 Apr 2007 19:18:42 GMT"},
            {"version": "v2", "created": "Tue, 24 Jul 2007 20:10:27 GMT"},
        ],
        "update_date": "2008-11-13",
    }
    no_versions = {**kaggle, "id": "0704.0002", "versions": []}
    rows = load_corpus(write_jsonl(tmp_path / "snap.json", [kaggle, no_versions])).table.to_pylist()
    assert rows[0] == {
        "id": "0704.0001",
        "title": "Calculation of prompt diphoton production",
        "abstract": "A fully differential calculation in perturbative QCD.",
        "categories": ["hep-ph", "astro-ph.GA"],
        "primary_category": "hep-ph",
        "year": 2007,
        "date": "2007-04-02",
    }
    assert (rows[1]["date"], rows[1]["year"]) == ("2008-11-13", 2008)


def test_field_mapping(tmp_path: Path) -> None:
    record = {
        "paper_id": "x1",
        "name": "A title",
        "summary": "An abstract.",
        "tags": ["cs.CL"],
        "published": "2020-05-06",
    }
    path = write_jsonl(tmp_path / "c.jsonl", [record])
    fields = FieldMap.parse(
        "id=paper_id,title=name,abstract=summary,categories=tags,date=published"
    )
    row = load_corpus(path, fields=fields).table.to_pylist()[0]
    assert row == {
        "id": "x1",
        "title": "A title",
        "abstract": "An abstract.",
        "categories": ["cs.CL"],
        "primary_category": "cs.CL",
        "year": 2020,
        "date": "2020-05-06",
    }
    with pytest.raises(DisentangleError, match="missing field 'id'"):
        load_corpus(path)


def test_field_map_parse_rejects_unknown_keys() -> None:
    assert FieldMap.parse("id=paper_id, abstract=summary") == FieldMap(
        id="paper_id", abstract="summary"
    )
    assert FieldMap.parse("primary_category=").primary_category is None
    for spec in ("identifier=paper_id", "id", "id="):
        with pytest.raises(DisentangleError):
            FieldMap.parse(spec)


def test_several_files_concatenate_and_deduplicate_by_id(tmp_path: Path) -> None:
    first = write_jsonl(tmp_path / "a.jsonl", PAPERS)
    changed = {**PAPERS[0], "title": "Second copy"}
    extra = {**PAPERS[1], "id": "1701.00003"}
    second = write_jsonl(tmp_path / "b.jsonl", [changed, extra, extra])
    report = load_corpus([first, second])
    assert report.table.column("id").to_pylist() == ["1501.00001", "1601.00002", "1701.00003"]
    assert report.table.column("title").to_pylist()[0] == "Dark matter halos"
    assert (report.read, report.duplicates) == (5, 2)


def test_malformed_json_line_names_file_and_line(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "c.jsonl", [PAPERS[0], "{not json", PAPERS[1]])
    with pytest.raises(DisentangleError) as caught:
        load_corpus(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: line 2: not valid JSON")
    assert message.endswith("fix the row or pass --skip-bad to skip malformed rows")


@pytest.mark.parametrize(
    ("bad", "problem"),
    [
        ({"id": "z", "title": "T"}, "missing field 'abstract'"),
        ({"id": 7, "title": "T", "abstract": "A"}, "field 'id' should be text"),
        ({"id": "z", "title": "T", "abstract": "A", "year": "soon"}, "should be a year"),
        ({"id": "z", "title": "T", "abstract": "A", "year": "²"}, "should be a year"),
        ({"id": "z", "title": "T", "abstract": "A", "year": "9" * 5000}, "should be a year"),
        ({"id": "z", "title": "T", "abstract": "A", "categories": 3}, "categories"),
        ('["a list"]', "expected a JSON object"),
    ],
)
def test_wrong_rows_fail_with_their_problem(tmp_path: Path, bad: dict | str, problem: str) -> None:
    path = write_jsonl(tmp_path / "c.jsonl", [PAPERS[0], bad])
    with pytest.raises(DisentangleError, match=f"line 2: .*{problem}"):
        load_corpus(path)


def test_csv_errors_name_the_row(tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    path.write_text("id,title,abstract\na,T,A\nb,T,\n")
    with pytest.raises(DisentangleError, match=r"c\.csv: row 2: missing field 'abstract'"):
        load_corpus(path)


def test_skip_bad_skips_and_counts(tmp_path: Path) -> None:
    rows = [PAPERS[0], "{oops", {"id": "q", "title": "no abstract"}, "", PAPERS[1]]
    report = load_corpus(write_jsonl(tmp_path / "c.jsonl", rows), skip_bad=True)
    assert report.table.column("id").to_pylist() == ["1501.00001", "1601.00002"]
    assert (report.read, report.skipped_bad) == (4, 2)


def test_missing_file_and_empty_result(tmp_path: Path) -> None:
    with pytest.raises(DisentangleError, match="no such corpus file"):
        load_corpus(tmp_path / "absent.jsonl")
    path = write_jsonl(tmp_path / "c.jsonl", PAPERS)
    with pytest.raises(DisentangleError, match="no papers left"):
        load_corpus(path, filters=CorpusFilter(categories=("hep-th",)))


def test_shared_arxiv_files_load_through_a_small_limit() -> None:
    astro = SHARED / "arxiv-astro-cs-2007-2017" / "arxiv_oai_astro_cs_2007-2017.jsonl.gz"
    modern = SHARED / "arxiv-csai-2024-2026" / "arxiv_csAI_listing_2024-2026.jsonl.gz"
    for path in (astro, modern):
        report = load_corpus(path, filters=CorpusFilter(limit=200))
        assert report.table.num_rows == report.read == 200
        with gzip.open(path, "rt") as handle:
            raw = [json.loads(next(handle)) for _ in range(200)]
        for row, source in zip(report.table.to_pylist(), raw, strict=True):
            assert row["id"] == source["id"] and row["title"] == source["title"].strip()
            assert row["abstract"] == source["abstract"] and row["year"] == source["year"]
            primary = source.get("primary_category", source["categories"][0])
            assert row["primary_category"] == primary and row["date"] == source["date"]


def test_truncated_gzip_names_the_line_and_is_skippable(tmp_path: Path) -> None:
    papers = [{**PAPERS[0], "id": f"p{i}", "abstract": f"Abstract number {i * 7919 % 10007}."}
              for i in range(5000)]
    whole = gzip.compress(("\n".join(json.dumps(p) for p in papers) + "\n").encode())
    path = tmp_path / "c.jsonl.gz"
    path.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(DisentangleError, match=r"c\.jsonl\.gz: line \d+: .*truncated or corrupt"):
        load_corpus(path)
    report = load_corpus(path, skip_bad=True)
    assert report.skipped_bad == 1 and 0 < report.table.num_rows < len(papers)


def test_garbage_behind_a_gzip_header_is_one_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "c.jsonl.gz"
    path.write_bytes(b"\x1f\x8b" + bytes(range(256)) * 4)
    with pytest.raises(DisentangleError, match=r"line 1: .*truncated or corrupt"):
        load_corpus(path)


def test_non_utf8_csv_row_is_named_and_skippable(tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    path.write_bytes(b"id,title,abstract\na,T,A\nb,T\xff\xfe,B\nc,T,C\n")
    with pytest.raises(DisentangleError, match=r"c\.csv: row 2: is not valid UTF-8"):
        load_corpus(path)
    report = load_corpus(path, skip_bad=True)
    assert report.table.column("id").to_pylist() == ["a", "c"] and report.skipped_bad == 1


@pytest.mark.parametrize("term", ["astro-ph.*", "cs.?", "astro ph"])
def test_wildcard_categories_say_which_syntax_is_expected(term: str) -> None:
    with pytest.raises(DisentangleError, match="prefixes without wildcards"):
        CorpusFilter(categories=(term,))
