"""examples/loop_llamafactory run on a CPU: the loop file as shipped, two rounds, with the train
hook running the real `llamafactory-cli train` and `export` (LLaMA-Factory 0.9.5, in the venv
`.ci/run` makes) on the YAML the loop writes for each round, and the eval hook's `lmms-eval`
command answered by a stand-in (tests/fake_lmms_eval.py) that writes lmms-eval's
`--log_samples` layout.

What CI changes against a GPU run, and only in the copied files: the model (a tiny random
LLaVA built locally by the example's tiny_model.py, no download; `template: llava`),
`bf16: false`, two training steps, one worker, and `tokenized_path`, so that what
LLaMA-Factory's own data pipeline produced from our export can be counted row by row.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from visinstruct.cli import main
from visinstruct.errors import VisinstructError
from visinstruct.loop.runner import Loop, load_loop

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "loop_llamafactory"
VENV = ROOT / ".ci" / "venv-llamafactory"
CLI = VENV / "bin" / "llamafactory-cli"
FAKE = Path(__file__).parent / "fake_lmms_eval.py"

needs_llamafactory = pytest.mark.skipif(
    not CLI.exists(), reason=f"LLaMA-Factory is not installed at {VENV} (`bash .ci/run` installs it)"
)

# accuracy per MMBench category, by the model evaluated: the base model is weakest at spatial
# relations, the model of round 0 at attribute recognition; image_emotion maps only to a
# catalog domain, which needs an LLM and source images, so no data can be made for it
PROFILES = {
    "tiny": {
        "ocr": 0.9,
        "spatial_relationship": 0.2,
        "attribute_recognition": 0.85,
        "object_localization": 0.6,
        "image_emotion": 0.1,
    },
    "round-0/model": {
        "ocr": 0.9,
        "spatial_relationship": 0.8,
        "attribute_recognition": 0.3,
        "object_localization": 0.6,
        "image_emotion": 0.1,
    },
    "round-1/model": {
        "ocr": 0.9,
        "spatial_relationship": 0.8,
        "attribute_recognition": 0.7,
        "object_localization": 0.65,
        "image_emotion": 0.1,
    },
}
PER_CATEGORY = 20
CI_TRAIN = {
    "template": "llava",
    "bf16": "false",
    "preprocessing_num_workers": "1",
    "dataloader_num_workers": "0",
    "per_device_train_batch_size": "2",
    "gradient_accumulation_steps": "1",
    "logging_steps": "1",
    "image_max_pixels": "12544",
    "max_steps": "2",
    "tokenized_path": "{round_dir}/tokenized",
}


def set_keys(text: str, values: dict[str, str]) -> str:
    """Replace `key: ...` lines of a YAML template (they hold `{placeholders}`, so not parsed)."""
    for key, value in values.items():
        line = re.compile(rf"^{key}:.*$", re.M)
        if len(line.findall(text)) > 1:
            raise AssertionError(f"{key} appears twice")
        text = line.sub(f"{key}: {value}", text) if line.search(text) else text + f"{key}: {value}\n"
    return text


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """The example's loop, two rounds, as CI can run it; returns its folders."""
    tmp = tmp_path_factory.mktemp("lf")
    tiny = tmp / "tiny"
    phrasings = sorted((ROOT / "src" / "visinstruct" / "synth" / "phrasings").glob("*.yaml"))
    subprocess.run(
        [
            str(VENV / "bin" / "python"),
            str(EXAMPLE / "tiny_model.py"),
            str(tiny),
            "--text",
            *map(str, phrasings),
        ],
        check=True,
        capture_output=True,
    )
    ex = tmp / "example"
    shutil.copytree(EXAMPLE, ex)
    loop = yaml.safe_load((ex / "loop.yaml").read_text("utf-8"))
    loop.update(model=str(tiny), rounds=2, samples_per_round=48)
    (ex / "loop.yaml").write_text(yaml.safe_dump(loop, sort_keys=False), "utf-8")
    train = (ex / "train.yaml").read_text("utf-8")
    (ex / "train.yaml").write_text(set_keys(train, CI_TRAIN), "utf-8")
    merge = (ex / "merge.yaml").read_text("utf-8")
    (ex / "merge.yaml").write_text(set_keys(merge, {"template": "llava"}), "utf-8")
    # the hooks find `llamafactory-cli` and `lmms-eval` on PATH, as on a GPU machine
    bin_dir = tmp / "bin"
    bin_dir.mkdir()
    (bin_dir / "llamafactory-cli").symlink_to(CLI)
    fake = bin_dir / "lmms-eval"
    fake.write_text(
        f"#!{sys.executable}\nimport runpy, sys\nrunpy.run_path({str(FAKE)!r}, run_name='__main__')\n"
    )
    fake.chmod(0o755)
    profile = tmp / "profiles.json"
    profile.write_text(json.dumps(PROFILES), "utf-8")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
        mp.setenv("FAKE_LMMS_PROFILE", str(profile))
        mp.setenv("HF_HUB_OFFLINE", "1")
        mp.setenv("DISABLE_VERSION_CHECK", "1")
        main(["loop", str(ex / "loop.yaml"), "--loop-dir", str(tmp / "L")])
    info = {(r, s): i for r, s, i in Loop.rows_of(tmp / "L")}
    return {"tiny": tiny, "L": tmp / "L", "info": info}


def export_rows(loop_dir: Path, rnd: int) -> list[dict]:
    return json.loads((loop_dir / f"round-{rnd}/run/exports/sharegpt/round.json").read_text("utf-8"))


@needs_llamafactory
@pytest.mark.parametrize("rnd", [0, 1])
def test_the_yaml_the_loop_writes_points_at_the_rounds_export(run, rnd):
    rdir = run["L"] / f"round-{rnd}"
    cfg = yaml.safe_load((rdir / "train.yaml").read_text("utf-8"))
    assert Path(cfg["dataset_dir"]) == rdir / "run/exports/sharegpt"
    info = json.loads((rdir / "run/exports/sharegpt/dataset_info.json").read_text("utf-8"))
    assert info[cfg["dataset"]]["file_name"] == "round.json"
    assert info[cfg["dataset"]]["formatting"] == "sharegpt"
    prev = str(run["tiny"]) if rnd == 0 else str(run["L"] / "round-0/model")
    assert cfg["model_name_or_path"] == prev  # round 1 fine-tunes round 0's merged model
    assert Path(cfg["output_dir"]) == rdir / "adapter"
    merge = yaml.safe_load((rdir / "merge.yaml").read_text("utf-8"))
    assert Path(merge["adapter_name_or_path"]) == rdir / "adapter"
    assert Path(merge["export_dir"]) == rdir / "model"


@needs_llamafactory
@pytest.mark.parametrize("rnd", [0, 1])
def test_llamafactory_loads_every_row_of_the_export_and_trains_on_it(run, rnd):
    from datasets import load_from_disk

    rdir = run["L"] / f"round-{rnd}"
    rows = export_rows(run["L"], rnd)
    assert len(rows) == run["info"][(rnd, "generate")]["samples"] > 0
    assert any(len(r["images"]) == 2 for r in rows)  # two-image "differences" rows among them
    tokenized = load_from_disk(str(rdir / "tokenized"))["train"]
    assert len(tokenized) == len(rows)  # LLaMA-Factory's pipeline dropped none
    tiny = json.loads((run["tiny"] / "config.json").read_text("utf-8"))
    image_id = tiny["image_token_index"]
    for row, done in zip(rows, tokenized, strict=True):
        # each <image> of the row expanded by the llava plugin to (28/14)² = 4 image tokens
        assert (
            done["input_ids"].count(image_id)
            == 4 * len(row["images"])
            == 4 * row["messages"][0]["content"].count("<image>")
        )
        assert any(label != -100 for label in done["labels"])  # the answers are trained on
    state = json.loads((rdir / "adapter/trainer_state.json").read_text("utf-8"))
    assert state["global_step"] == 2
    assert (rdir / "adapter/adapter_model.safetensors").is_file()
    assert (rdir / "model/config.json").is_file()  # the merged model the next eval loads


@needs_llamafactory
def test_the_loop_reads_each_rounds_lmms_eval_log(run):
    for rnd, key in enumerate(["tiny", "round-0/model", "round-1/model"]):
        logs = list((run["L"] / f"round-{rnd}/eval/lmms").glob("*/*_samples_mmbench_en_dev.jsonl"))
        assert len(logs) == 1
        assert run["info"][(rnd, "evaluate")]["source"] == str(logs[0])
        assert run["info"][(rnd, "evaluate")]["records"] == PER_CATEGORY * len(PROFILES[key])
        stats = {s["category"]: s for s in run["info"][(rnd, "analyse")]["stats"]}
        for cat, acc in PROFILES[key].items():
            assert (stats[cat]["n"], stats[cat]["correct"]) == (PER_CATEGORY, round(acc * PER_CATEGORY)), cat


@needs_llamafactory
def test_each_rounds_quotas_target_the_weak_categories_of_its_log(run):
    for rnd, weakest in [(0, "spatial_relationship"), (1, "attribute_recognition")]:
        quotas = run["info"][(rnd, "analyse")]["quotas"]
        assert sum(quotas.values()) == 48
        assert max(quotas, key=quotas.get) == weakest, quotas
        assert quotas["image_emotion"] == 0  # no LLM in the base recipe: nothing can be made for it
        assert quotas[weakest] > quotas["object_localization"] > quotas["ocr"] > 0
    made0 = run["info"][(0, "generate")]["by_category"]
    made1 = run["info"][(1, "generate")]["by_category"]
    assert made0.get("spatial_relation", 0) > made1.get("spatial_relation", 0)
    assert {"color", "shape"} & set(made1)


# --- the loop's side, without LLaMA-Factory: templates filled per round, results found by glob


def small_loop(tmp_path: Path, hooks: dict, **extra) -> Loop:
    (tmp_path / "base.yaml").write_text(
        yaml.safe_dump({"name": "b", "seed": 1, "languages": ["en"], "synthetic": {"scenes": 1}})
    )
    spec = {"recipe": "base.yaml", "rounds": 1, "samples_per_round": 10, "hooks": hooks, **extra}
    (tmp_path / "loop.yaml").write_text(yaml.safe_dump(spec))
    return Loop(*load_loop(tmp_path / "loop.yaml"), tmp_path / "L")


def test_a_hooks_template_is_filled_for_the_round_before_its_hook(tmp_path):
    (tmp_path / "cfg.in").write_text("data: {exports}/sharegpt\nfrom: {prev_model}\nto: {model}\n")
    probe = f'{sys.executable} -c "import shutil,sys; shutil.copy(sys.argv[1], sys.argv[2])"'
    loop = small_loop(
        tmp_path,
        {
            "train": f"{probe} {{round_dir}}/cfg.yaml {{round_dir}}/seen.yaml",
            "eval": "true",
            "files": {"train": {"cfg.yaml": "cfg.in"}},
        },
        model="org/some-model",  # a hub id, not a path beside the loop file: passed on as given
    )
    loop.round_dir(0).mkdir(parents=True)
    loop.train(0)
    seen = yaml.safe_load((loop.round_dir(0) / "seen.yaml").read_text())  # what the hook read
    assert seen == {
        "data": f"{loop.round_dir(0)}/run/exports/sharegpt",
        "from": "org/some-model",
        "to": f"{loop.round_dir(0)}/model",
    }


@pytest.mark.parametrize(
    ("template", "name", "error"),
    [
        ("x: {nope}\n", "cfg.yaml", "no value for placeholder {nope}"),
        ("x: 1\n", "../cfg.yaml", "must be a plain file name"),
    ],
)
def test_a_bad_hooks_template_stops_with_its_name(tmp_path, template, name, error):
    (tmp_path / "cfg.in").write_text(template)
    loop = small_loop(tmp_path, {"train": "true", "eval": "true", "files": {"train": {name: "cfg.in"}}})
    loop.round_dir(0).mkdir(parents=True)
    with pytest.raises(VisinstructError, match=re.escape(error)):
        loop.train(0)


def writes(names: str) -> str:
    """An eval hook writing `names` (a Python list literal) into the folder it is given."""
    code = f"import pathlib, sys; [pathlib.Path(sys.argv[1], n).write_text('{{}}') for n in {names}]"
    return f'{sys.executable} -c "{code}"'


@pytest.mark.parametrize(
    ("names", "error"), [("['a.jsonl', 'b.jsonl']", "wrote 2 files matching"), ("[]", "wrote no results")]
)
def test_the_eval_hook_must_leave_one_new_file_matching_hooks_results(tmp_path, names, error):
    loop = small_loop(
        tmp_path, {"train": "true", "eval": f"{writes(names)} {{eval_dir}}", "results": "*.jsonl"}
    )
    with pytest.raises(VisinstructError, match=error):
        loop.evaluate(0)


def test_hooks_results_stays_inside_the_eval_folder(tmp_path):
    loop = small_loop(tmp_path, {"train": "true", "eval": "true", "results": "../*.jsonl"})
    with pytest.raises(VisinstructError, match="inside the eval folder"):
        loop.evaluate(0)
