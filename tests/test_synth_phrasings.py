"""Phrasing files: parsed alike by either YAML parser, and loaded once before workers fork."""

from __future__ import annotations

import multiprocessing
from importlib import resources

import yaml

from visinstruct.synth import base, warm


def _cached() -> tuple[int, int]:
    from visinstruct.synth import get_domain

    return base.load_phrasings.cache_info().currsize, get_domain.cache_info().currsize


def test_every_built_in_phrasing_file_reads_the_same_with_the_fast_parser() -> None:
    folder = resources.files("visinstruct.synth").joinpath("phrasings")
    files = [f for f in folder.iterdir() if f.name.endswith(".yaml")]
    assert len(files) >= 8
    for f in files:
        text = f.read_text("utf-8")
        assert yaml.load(text, Loader=base._LOADER) == yaml.safe_load(text), f.name


def test_workers_forked_after_warm_start_with_the_phrasings_loaded() -> None:
    base.load_phrasings.cache_clear()
    warm(["charts", "clocks"])
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(1) as pool:
        phrasings, domains = pool.apply(_cached)
    assert phrasings == 3  # common, charts, clocks: nothing left to load in the worker
    assert domains >= 2
