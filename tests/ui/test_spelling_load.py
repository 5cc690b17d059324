"""The spell check's word lists, read a slice at a time (``spelling._read_words``): the
same words as pyspellchecker's own load, without one long hold of the GIL."""

from __future__ import annotations

import gzip
import json
import pkgutil
import sys
import threading
import time

import pytest

from mailgui.ui import spelling

pytest.importorskip("spellchecker")


@pytest.mark.parametrize("language", spelling._LANGUAGES)
def test_a_list_read_in_slices_has_the_words_of_the_whole(language: str) -> None:
    raw = pkgutil.get_data("spellchecker", f"resources/{language}.json.gz")
    assert raw
    assert spelling._read_words(language) == json.loads(gzip.decompress(raw).decode("utf-8"))


def test_a_cut_inside_a_word_falls_back_to_the_whole_list(monkeypatch: pytest.MonkeyPatch) -> None:
    """A key holding what looks like the end of an entry ('1, "') makes a slice fail to
    parse: the list is then read whole, never wrong."""
    text = '{\n"a": 1,\n"b1, ": 2,\n"c": 3\n}'
    monkeypatch.setattr(spelling, "_SLICE", 1)
    monkeypatch.setattr(pkgutil, "get_data", lambda *_a: gzip.compress(text.encode()))
    assert spelling._read_words("en") == {"a": 1, "b1, ": 2, "c": 3}


def test_reading_a_list_lets_other_threads_run() -> None:
    """The ~60 ms json.loads of a whole list held the GIL, a stall of the GUI thread;
    each slice holds it for about a millisecond. Generous bound: a loaded machine."""
    gaps: list[float] = []
    done = threading.Event()

    def read() -> None:
        spelling._read_words("en")
        done.set()

    previous = sys.getswitchinterval()
    sys.setswitchinterval(0.001)
    try:
        worker = threading.Thread(target=read)
        last = time.perf_counter()
        worker.start()
        while not done.is_set():
            time.sleep(0.001)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now
        worker.join()
    finally:
        sys.setswitchinterval(previous)
    assert len(gaps) > 10
    assert sorted(gaps)[-2] < 0.030  # the second longest: one may be the machine's
