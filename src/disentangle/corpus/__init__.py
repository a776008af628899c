"""Corpus loading: any JSONL/CSV/Parquet arXiv dump into one normalised, filtered table."""

from disentangle.corpus.fields import FieldMap
from disentangle.corpus.filters import CorpusFilter, parse_year_range, read_id_list
from disentangle.corpus.loader import LoadReport, load_corpus
from disentangle.corpus.schema import CORPUS_SCHEMA
from disentangle.corpus.text import corpus_hash, document_text

__all__ = [
    "CORPUS_SCHEMA",
    "CorpusFilter",
    "FieldMap",
    "LoadReport",
    "corpus_hash",
    "document_text",
    "load_corpus",
    "parse_year_range",
    "read_id_list",
]
