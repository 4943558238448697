"""Dataset pickles load without running their code: only numpy arrays and builtin values pass."""

from __future__ import annotations

import builtins
import os
import pickle
import subprocess
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest

from visinstruct import safe_pickle
from visinstruct.safe_pickle import PickleRefused
from visinstruct.sources.ingest import SourceError


class _Calls:
    """Pickles as `func(*args)`: unpickling it with plain `pickle` would make the call."""

    def __init__(self, func: object, *args: object) -> None:
        self.func, self.args = func, args

    def __reduce__(self) -> tuple:
        return self.func, self.args


def _write(path: Path, obj: object, protocol: int = pickle.HIGHEST_PROTOCOL) -> Path:
    path.write_bytes(pickle.dumps(obj, protocol=protocol))
    return path


@pytest.mark.parametrize("protocol", [0, 2, 4, 5])
def test_a_pickle_calling_os_system_is_refused_and_the_call_never_happens(tmp_path: Path, protocol: int):
    marker = tmp_path / "marker"
    evil = [{"image": np.zeros((2, 2), np.uint8)}, _Calls(os.system, f"touch {marker}")]
    path = _write(tmp_path / "train.pk", evil, protocol)

    with pytest.raises(PickleRefused) as got:
        safe_pickle.load(path)

    message = str(got.value)
    assert "\n" not in message
    assert f"{os.system.__module__}.system" in message  # posix.system on Linux
    assert str(path) in message
    assert not marker.exists()
    # the same bytes through plain pickle would have run the command: the test can fail
    pickle.loads(path.read_bytes())
    assert marker.exists()


@pytest.mark.parametrize(
    ("func", "args", "named"),
    [
        (subprocess.Popen, (["true"],), "subprocess.Popen"),
        (builtins.eval, ("1+1",), "builtins.eval"),
        (builtins.exec, ("x = 1",), "builtins.exec"),
        (builtins.getattr, (_Calls(builtins.__import__, "os"), "system"), "builtins.getattr"),
        (builtins.__import__, ("os",), "builtins.__import__"),
    ],
)
def test_other_dangerous_names_are_refused_by_name(tmp_path: Path, func, args, named: str):
    path = _write(tmp_path / "x.pk", {"a": _Calls(func, *args)})
    with pytest.raises(PickleRefused, match=rf"names {named}, which is not allowed"):
        safe_pickle.load(path)


def test_a_python2_pickle_naming_builtin_eval_is_refused():
    data = b"c__builtin__\neval\n(S'1+1'\ntR."  # protocol 0 as written by Python 2
    with pytest.raises(PickleRefused, match=r"builtins\.eval"):
        safe_pickle.loads(data, "old.pk")
    assert pickle.loads(data) == 2  # plain pickle would evaluate it


@pytest.mark.parametrize("protocol", [0, 2, 3, 4, 5])
def test_numpy_arrays_scalars_and_builtins_round_trip(tmp_path: Path, protocol: int):
    image = np.arange(24, dtype=np.uint8).reshape(2, 4, 3)
    record = {
        "id": 7,
        "image": image,
        "floats": np.array([1.5, 2.25], dtype=np.float32),
        "choices": ["3", "4", "5", "6"],
        "label": np.int64(2),
        "value": np.float64(0.5),
        "numbers": (1.0, 2.0),
        "seen": {1, 2},
        "frozen": frozenset({"a"}),
        "raw": b"\x00\x01",
        "z": 1 + 2j,
        "flag": True,
        "order": OrderedDict([("b", 1), ("a", 2)]),
        "nothing": None,
    }
    got = safe_pickle.load(_write(tmp_path / "ok.pk", [record], protocol))
    assert isinstance(got, list) and len(got) == 1
    out = got[0]
    assert out["image"].dtype == np.uint8 and np.array_equal(out["image"], image)
    assert np.array_equal(out["floats"], record["floats"]) and out["floats"].dtype == np.float32
    assert out["label"] == 2 and isinstance(out["label"], np.int64)
    assert {k: v for k, v in out.items() if k not in ("image", "floats")} == {
        k: v for k, v in record.items() if k not in ("image", "floats")
    }
    assert list(out["order"]) == ["b", "a"]


def test_a_numpy_1_pickle_naming_numpy_core_loads(tmp_path: Path):
    data = pickle.dumps(np.array([[1, 2]], dtype=np.uint8), protocol=2)
    old = data.replace(b"numpy._core.multiarray", b"numpy.core.multiarray")
    assert old != data
    assert np.array_equal(safe_pickle.loads(old), np.array([[1, 2]], dtype=np.uint8))


def test_a_broken_or_missing_pickle_is_one_line_naming_the_file(tmp_path: Path):
    good = pickle.dumps([{"a": np.zeros(3)}])
    path = tmp_path / "cut.pk"
    path.write_bytes(good[: len(good) // 2])
    with pytest.raises(SourceError, match=r"cut\.pk: not a valid pickle") as got:
        safe_pickle.load(path)
    assert "\n" not in str(got.value)
    (tmp_path / "text.pk").write_text("not a pickle at all\n")
    with pytest.raises(SourceError, match="not a valid pickle"):
        safe_pickle.load(tmp_path / "text.pk")
    with pytest.raises(SourceError, match="not found"):
        safe_pickle.load(tmp_path / "none.pk")
