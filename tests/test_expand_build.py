"""Ground truth → the four instruction types, and the datasets flow over a hand-made reader."""

from __future__ import annotations

import io
import random
from collections import Counter
from pathlib import Path

import pytest
import yaml
from PIL import Image, ImageDraw

from visinstruct.checks.rules import rule_checks
from visinstruct.expand import READERS, BadRecord, DatasetImage, Dialogue, Truth, build
from visinstruct.recipe import parse_recipe
from visinstruct.runner import run_recipe
from visinstruct.store import RunStore

IDS = ["f" * 64]


def png(seed: int, size: tuple[int, int] = (96, 64)) -> bytes:
    img = Image.new("RGB", size, (seed * 40 % 255, 200, 120))
    ImageDraw.Draw(img).text((5, 5), f"#{seed}", fill="black")
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def image(questions: list[Truth], **kw) -> DatasetImage:
    kw.setdefault("ref", "toy:train/1")
    return DatasetImage("toy", "train", questions=questions, **kw)


def ok(s) -> bool:
    return all(r["pass"] for r in rule_checks(s).values())


def test_a_numeric_question_makes_all_four_types_that_pass_the_rules():
    t = Truth(
        "q1",
        "How many apples are in the basket?",
        "12",
        12,
        "number",
        solution=["Count them.", "There are 12."],
    )
    made = build.samples(image([t]), IDS, index=0, seed="s")
    assert Counter(s.type for s in made) == {
        "judgement": 2,
        "multiple_choice": 1,
        "short_vqa": 1,
        "long_vqa": 1,
    }
    assert all(ok(s) for s in made), [rule_checks(s) for s in made]
    judge = [s for s in made if s.type == "judgement"]
    assert sorted(s.short_answer for s in judge) == ["no", "yes"]
    right, wrong = (next(s for s in judge if s.short_answer == a) for a in ("yes", "no"))
    assert " 12" in right.turns[0].question and " 12" not in wrong.turns[0].question
    mc = next(s for s in made if s.type == "multiple_choice")
    assert mc.short_answer == "12" and mc.options[ord(mc.answer_letter) - 65] == "12"
    assert all(o.isdigit() and abs(int(o) - 12) <= 3 for o in mc.options)  # nearby numbers
    short = next(s for s in made if s.type == "short_vqa")
    assert short.short_answer == short.turns[0].answer == "12"
    long = next(s for s in made if s.type == "long_vqa")
    assert long.turns[0].answer == "Count them.\nThere are 12." == long.context["explanation"]
    assert long.turns[1].answer.endswith("12.")
    for s in made:
        assert s.context["facts"]["answer"] == "12" and s.provenance["answer_raw"] == 12
        assert s.provenance["qid"] == "q1" and s.provenance["generator"] == "dataset/toy"
    assert [s.id for s in build.samples(image([t]), IDS, index=0, seed="s")] == [s.id for s in made]


def test_choices_of_the_dataset_are_the_options():
    t = Truth(
        "q",
        "Which town is closest?",
        "Rocky Port",
        "Rocky Port",
        "choice",
        choices=["Bay", "Rocky Port", "Foggy", "Star", "Dune"],
    )
    mc = next(s for s in build.samples(image([t]), IDS, index=0, seed="s") if s.type == "multiple_choice")
    assert "Rocky Port" in mc.options and set(mc.options) <= set(t.choices) and ok(mc)


def test_two_choices_give_a_judgement_pair_but_no_made_up_options():
    t = Truth(
        "q",
        "Is the function linear or nonlinear?",
        "nonlinear",
        "nonlinear",
        "choice",
        choices=["linear", "nonlinear"],
    )
    made = build.samples(image([t]), IDS, index=0, seed="s")
    assert "multiple_choice" not in {s.type for s in made}
    wrong = next(s for s in made if s.type == "judgement" and s.short_answer == "no")
    assert " linear" in wrong.turns[0].question.removeprefix("Is the function linear or nonlinear?")


def test_text_without_choices_is_padded_from_the_pool_and_the_image():
    t = Truth("q", "Who sold the most?", "Ann", "Ann", "text", category="who")
    other = Truth("q2", "Who sold the least?", "Dee", "Dee", "text", category="who")
    pool = {"who": ("Bo", "Cy", "Ann", "12")}  # numbers are no distractors of a name
    made = build.samples(image([t, other]), IDS, index=0, seed="s", pool=pool)
    mc = next(s for s in made if s.type == "multiple_choice" and s.provenance["qid"] == "q")
    assert sorted(mc.options) == ["Ann", "Bo", "Cy", "Dee"] and mc.short_answer == "Ann" and ok(mc)
    # too few plausible answers: no multiple choice rather than a made-up option
    lone = build.samples(image([t]), IDS, index=0, seed="s", pool={"who": ("Bo",)})
    assert "multiple_choice" not in {s.type for s in lone}


def test_yes_no_questions_of_one_image():
    qs = [
        Truth(f"q{i}", f"Is bar {c} the tallest?", a, a == "yes", "yes_no")
        for i, (c, a) in enumerate([("A", "yes"), ("B", "no"), ("C", "no"), ("D", "no"), ("E", "no")])
    ]
    made = build.samples(image(qs), IDS, index=0, seed="s")
    judge = [s for s in made if s.type == "judgement"]
    assert [s.short_answer for s in judge] == ["yes", "no", "no", "no", "no"]  # as the dataset asks them
    assert [s.turns[0].question.split("?")[0] + "?" for s in judge] == [q.question for q in qs]
    [mc] = [s for s in made if s.type == "multiple_choice"]
    assert mc.short_answer == "Is bar A the tallest?" and "answered yes" in mc.turns[0].question
    assert set(mc.provenance["qids"]) >= {"q0"} and len(mc.provenance["qids"]) == 4
    longs = [s for s in made if s.type == "long_vqa"]  # no solution: asked together, four a conversation
    assert [len(s.turns) for s in longs] == [4]
    assert [t.question for t in longs[0].turns] == [q.question for q in qs[:4]]
    assert "yes" in longs[0].turns[0].answer and "no" in longs[0].turns[1].answer
    assert all(ok(s) for s in made), [(s.type, rule_checks(s)) for s in made if not ok(s)]


def test_chinese_records_get_chinese_wrappers_and_pass_the_language_rule():
    t = Truth(
        "g1",
        "如图，AB是⊙O的直径，∠C=30°，则∠B的度数为（）",
        "60°",
        "B",
        "choice",
        choices=["30°", "60°", "90°", "120°"],
        solution=["因为AB是直径，所以∠ACB=90°。", "所以∠B=90°-30°=60°。"],
        lang="zh",
    )
    made = build.samples(image([t]), IDS, index=0, seed="s")
    assert {s.language for s in made} == {"zh"} and {s.type for s in made} == set(build.TYPES)
    assert all(ok(s) for s in made), [(s.type, rule_checks(s)) for s in made if not ok(s)]
    assert any("答案是" in s.turns[0].question for s in made if s.type == "judgement")


def test_answer_letters_are_balanced_over_images():
    letters = Counter()
    for i in range(40):
        t = Truth("q", f"What is {i} plus {i}?", str(2 * i + 10), 0, "number")
        letters.update(
            s.answer_letter for s in build.samples(image([t]), IDS, index=i, seed=str(i)) if s.answer_letter
        )
    assert letters == {"A": 10, "B": 10, "C": 10, "D": 10}


def test_nearby_numbers_keep_the_form_of_the_answer():
    rng = random.Random(0)
    assert all("." in n or n.isdigit() for n in build.nearby_numbers("8.2", rng))
    assert all("/" in n for n in build.nearby_numbers("5/18", rng))
    assert all(not n.startswith("-") for n in build.nearby_numbers("0", rng))
    assert build.nearby_numbers("2:10 P.M.", rng) == []


def test_a_dialogue_becomes_one_sample_verbatim():
    d = Dialogue(
        "conv7",
        [
            ("What is in the picture?", "A red bus on a wet street."),
            ("Why is the street wet?", "It has just rained, as the puddles show."),
        ],
    )
    img = image([], dialogues=[d])
    s = build.dialogue_sample(img, d, IDS)
    assert [(t.question, t.answer) for t in s.turns] == d.turns and s.type == "long_vqa"
    assert s.provenance["qid"] == "conv7" and s.provenance["dataset"] == "toy" and ok(s)


# -- the datasets flow over a reader written here -------------------------------------------


def read_toy(root: Path, split: str, **options):
    """Four images: one with three questions and a dialogue (and one refused record), one whose
    file is not an image, one the reader says is unusable, one with the first one's bytes; and
    a bad record on its own."""
    yield DatasetImage(
        "toy",
        split,
        "toy:train/a",
        questions=[
            Truth(
                "a1",
                "How many bars are there?",
                "5",
                5,
                "number",
                solution=["Count the bars.", "There are 5 bars."],
            ),
            Truth(
                "a2",
                "What colour is the tallest bar?",
                "red",
                "red",
                "choice",
                choices=["red", "blue", "green", "grey"],
            ),
            Truth("a3", "Is the red bar taller than the blue bar?", "yes", True, "yes_no"),
        ],
        dialogues=[
            Dialogue(
                "a-conv",
                [
                    ("Describe the chart.", "Five bars, the red one the tallest of all."),
                    ("Which is the shortest?", "The grey bar is the shortest one."),
                ],
            )
        ],
        data=png(1),
        license="CC BY 4.0",
        provenance={"file": "toy.json", "image": "a.png"},
        bad=[BadRecord("toy", "a9", "answer 'pink' is not among the choices")],
    )
    yield BadRecord("toy", "line 4", "unparsable line")
    yield DatasetImage(
        "toy", split, "toy:train/b", questions=[Truth("b1", "How tall?", "3", 3, "number")], data=b"not a png"
    )
    yield DatasetImage(
        "toy",
        split,
        "toy:train/c",
        questions=[Truth("c1", "How wide?", "4", 4, "number")],
        error="c.png is missing",
    )
    yield DatasetImage(
        "toy",
        split,
        "toy:train/d",
        questions=[Truth("d1", "How many dots are there?", "7", 7, "number")],
        data=png(1),
    )  # same image as a


@pytest.fixture
def toy(monkeypatch):
    monkeypatch.setitem(READERS, "toy", f"{__name__}:read_toy")


def toy_recipe(tmp_path: Path, **source) -> object:
    return parse_recipe(
        {"name": "toy", "workers": 1, "sources": [{"dataset": "toy", "path": str(tmp_path), **source}]}
    )


def test_the_flow_keeps_every_question_stores_the_image_once_and_records_bad_ones(tmp_path, toy):
    run_recipe(toy_recipe(tmp_path), tmp_path / "run")
    with RunStore(tmp_path / "run", create=False) as store:
        samples = list(store.iter_samples())
        assert store.count_images() == 1  # a and d hold the same bytes
        bad = {r: why for _, r, why in store.bad_records()}
        counts = store.dataset_counts()
    assert set(bad) == {"a9", "line 4", "b1", "c1"}
    assert bad["b1"].startswith("toy:train/b: not an image") and bad["c1"] == "c.png is missing"
    assert counts == [("toy", 2, 5, 4, len(samples))]  # a (3 questions + 1 dialogue) and d
    qids = {s.provenance.get("qid") for s in samples}
    assert {"a1", "a2", "a3", "a-conv", "d1"} <= qids
    conv = next(s for s in samples if s.provenance.get("qid") == "a-conv")
    assert conv.turns[1].answer == "The grey bar is the shortest one."
    assert all(
        s.provenance["license"] == "CC BY 4.0" for s in samples if s.provenance["unit"] == "toy:train/a"
    )


def test_limit_counts_images_and_a_rerun_is_the_same_run(tmp_path, toy):
    run_recipe(toy_recipe(tmp_path, limit=1), tmp_path / "one")
    with RunStore(tmp_path / "one", create=False) as store:
        assert {s.provenance["unit"] for s in store.iter_samples()} == {"toy:train/a"}
        # the reader stopped at the next image: "b", "c" and their records are not read
        assert {r for _, r, _ in store.bad_records()} == {"a9", "line 4"}
    first = run_recipe(toy_recipe(tmp_path), tmp_path / "run")
    again = run_recipe(toy_recipe(tmp_path), tmp_path / "run")
    assert again.stages["dataset"].skipped == first.stages["dataset"].done >= 1  # batches of records
    assert again.stages["dataset"].done == 0 and again.samples == first.samples


def test_batches_of_records_resume_and_an_engine_error_fails_only_its_image(tmp_path, toy, monkeypatch):
    """Records go to workers in batches; a run cut short after some batches resumes with the rest
    and makes what an uninterrupted run makes. An image whose samples cannot be made is a bad
    record with the reason; the other images of its batch import."""
    from visinstruct.expand import build
    from visinstruct.stages import datasets

    monkeypatch.setattr(datasets, "BATCH", 2)
    whole = run_recipe(toy_recipe(tmp_path), tmp_path / "whole")
    assert whole.stages["dataset"].done == 3  # 5 records and the image's bad one: 2 + 2 + 1
    first = run_recipe(toy_recipe(tmp_path, limit=1), tmp_path / "run")
    assert first.stages["dataset"].done == 1
    rest = run_recipe(toy_recipe(tmp_path), tmp_path / "run", force=True)
    with RunStore(tmp_path / "whole", create=False) as a, RunStore(tmp_path / "run", create=False) as b:
        assert [s.to_dict() for s in a.iter_samples()] == [s.to_dict() for s in b.iter_samples()]
        assert a.bad_records() == b.bad_records()
    assert rest.stages["dataset"].done == 2 and rest.stages["dataset"].skipped == 1

    real = build.samples

    def broken(image, *args, **kw):
        if image.ref == "toy:train/d":
            raise KeyError("phrasing")
        return real(image, *args, **kw)

    monkeypatch.setattr(build, "samples", broken)
    run_recipe(toy_recipe(tmp_path), tmp_path / "broken")
    with RunStore(tmp_path / "broken", create=False) as store:
        bad = {r: why for _, r, why in store.bad_records()}
        units = store.failed_units()
        made = {s.provenance["unit"] for s in store.iter_samples()}
    assert bad["d1"] == "its samples cannot be made (KeyError: 'phrasing')"
    assert made == {"toy:train/a"} and units == []


def test_a_limit_on_one_dataset_source_leaves_the_next_source_read(tmp_path, toy):
    """A source's limit ends that source only: the reading goes on with the next one."""
    recipe = parse_recipe(
        {
            "name": "two",
            "workers": 1,
            "sources": [
                {"dataset": "toy", "path": str(tmp_path), "limit": 1},
                {"dataset": "toy", "path": str(tmp_path), "split": "dev"},
            ],
        }
    )
    run_recipe(recipe, tmp_path / "run")
    with RunStore(tmp_path / "run", create=False) as store:
        splits = {s.provenance["split"] for s in store.iter_samples()}
    assert splits == {"train", "dev"}


def test_a_dataset_only_recipe_needs_no_endpoint_and_an_unknown_dataset_is_named(tmp_path):
    r = parse_recipe({"sources": [{"dataset": "tabmwp", "path": "x"}]})
    assert r.dataset_sources and not r.image_sources
    from visinstruct.errors import VisinstructError

    (tmp_path / "r.yaml").write_text(
        yaml.safe_dump({"sources": [{"dataset": "nope", "path": str(tmp_path)}]})
    )
    with pytest.raises(VisinstructError, match="unknown dataset 'nope'"):
        run_recipe(parse_recipe({"sources": [{"dataset": "nope", "path": str(tmp_path)}]}), tmp_path / "run")
