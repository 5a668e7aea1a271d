"""Shared fixtures: the real model, a real index of the seed corpus in a temp folder."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parent.parent
SEED_CORPUS = ROOT / "corpus"


@pytest.fixture(scope="session")
def seed_corpus(tmp_path_factory) -> Path:
    """A private copy of the shipped corpus (tests may not touch the real one)."""
    target = tmp_path_factory.mktemp("corpus")
    for f in SEED_CORPUS.iterdir():
        shutil.copy(f, target / f.name)
    return target


@pytest.fixture(scope="session")
def seed_settings(seed_corpus, tmp_path_factory):
    from rag.config import load_settings

    # The shared index stores sentence vectors (the default, said here so that the options
    # ranking by them stay covered); test_reader.py checks an index built without them.
    return load_settings(
        corpus_dir=seed_corpus, index_dir=tmp_path_factory.mktemp("index"), sentence_vectors=True
    )


@pytest.fixture(scope="session")
def seed_index(seed_settings):
    """The seed corpus indexed once per test session; returns the sync report."""
    from rag.indexing import sync

    return sync([seed_settings.corpus_dir], seed_settings)


@pytest.fixture(scope="session")
def pipeline(seed_settings, seed_index):
    from rag.pipeline import Pipeline

    return Pipeline(seed_settings)
