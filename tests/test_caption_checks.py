"""What comes before the instructions: a caption is checked before anything is built on it
(refusals, replies cut off, preambles, reasoning, length), and a failed caption or domain
assignment is a recorded failure of the image's instruction units, retried by the next run.
Against the loopback server, whose counters say what was asked."""

from __future__ import annotations

import threading
from collections import Counter

import pytest
from click.testing import CliRunner
from test_mminstruct import recipe_for, sample_folder

from visinstruct.cli import cli
from visinstruct.generate.caption import caption_problem, clean_caption
from visinstruct.recipe import parse_recipe
from visinstruct.runner import run_recipe as run
from visinstruct.store import RunStore

REFUSAL = "I'm sorry, I can't help with that."
CUT = "A tall grey tower rises above a row of old houses, its upper windows catching the"
LANDMARK_HINT = "Name the landmark"  # in the caption request of the landmark image (tower.jpg) only
OCR_HINT = "Pay particular attention to"


@pytest.fixture(autouse=True)
def key(monkeypatch):
    monkeypatch.setenv("VISINSTRUCT_TEST_KEY", "sk-test")


@pytest.fixture
def images(tmp_path):
    return sample_folder(tmp_path / "images")  # tower (landmark), two ocr images, street (no domain)


def kind(req: dict) -> str:
    system = req["messages"][0]["content"]
    if isinstance(system, str) and system.startswith("You are an expert image annotator"):
        return "caption"
    if isinstance(system, str) and system.startswith("You sort images into domains"):
        return "domain"
    return "instructions"


def user_text(req: dict) -> str:
    content = req["messages"][1]["content"]
    if isinstance(content, str):
        return content
    return " ".join(p.get("text", "") for p in content if p.get("type") == "text")


class Server:
    """What the server saw (counted as it answers) and how it answers captions: the landmark
    image's caption is a refusal, the street's (no domain hints) is cut off at the token limit."""

    def __init__(self, fake, *, bad: bool = True) -> None:
        self.bad = bad
        self.seen: Counter[str] = Counter()
        self.bodies: list[str] = []
        self.lock = threading.Lock()
        fake.responder, fake.reply_hook = self.reply, self.finish

    def reply(self, req: dict) -> str | None:
        k, text = kind(req), user_text(req)
        with self.lock:
            self.seen[k] += 1
            self.bodies.append(repr(req["messages"]))
            if k == "caption":
                self.seen[
                    "caption:"
                    + ("tower" if LANDMARK_HINT in text else "ocr" if OCR_HINT in text else "street")
                ] += 1
        if k != "caption":
            return None
        if self.bad and LANDMARK_HINT in text:
            return REFUSAL
        if self.bad and OCR_HINT not in text:
            return CUT
        return (
            "<think>The sign {top left} reads OPEN; describe it.</think>\n"
            "Sure! Here is a detailed description:\n\n"
            "A small shop front with a yellow sign above the door and a blue wall on either side. "
            "Let me know if you need anything else!"
        )

    def finish(self, req: dict, choice: dict) -> dict | None:
        if self.bad and kind(req) == "caption" and OCR_HINT not in user_text(req):
            return {"finish_reason": "length"}
        return None


def status(run_dir) -> str:
    res = CliRunner().invoke(cli, ["status", str(run_dir)], terminal_width=400)
    assert res.exit_code == 0, res.output
    return res.output


def test_refused_and_cut_off_captions_never_reach_the_instructions_and_are_asked_again(
    fake_openai, tmp_path, images
):
    server = Server(fake_openai)
    rec = parse_recipe(recipe_for(fake_openai, images))
    first = run(rec, tmp_path / "run", workers=1)

    assert first.stages["captions"].done == 2 and first.stages["captions"].failed == 2
    # the two good images: 4 types × 2 languages each; nothing for the refused or cut-off one
    assert server.seen["instructions"] == first.stages["instructions"].done == 16
    assert server.seen["domain"] == 0  # the street image's domain needs its caption: never asked
    assert not any(REFUSAL in b or CUT in b for b in server.bodies if "annotator" not in b)
    with RunStore(tmp_path / "run", create=False) as store:
        stored = {i: store.contexts_of(i, "caption") for _, _, i, _ in store.iter_inputs()}
        samples = list(store.iter_samples())
    captions = [c["en"][0] for c in stored.values() if c]
    assert len(captions) == 2 and sum(not c for c in stored.values()) == 2
    # what is not caption is not stored: no reasoning, no preamble, no offer of more help
    assert all(c.startswith("A small shop front") and c.endswith("either side.") for c in captions)
    assert samples and all(s.context["caption"] in captions for s in samples)

    # the failures are recorded: the captions and the 16 instruction units waiting on them
    out = status(tmp_path / "run")
    assert out.count("captions ") >= 2 and "the model refused" in out and "cut off at max_tokens" in out
    assert out.count("not written: the image's caption failed") == 16

    # nothing bad was cached: the next run asks for both captions again (and only those; the
    # cut-off one with more room, up to the client's bound)
    server.seen.clear()
    again = run(rec, tmp_path / "run", workers=1)
    assert server.seen["caption:tower"] == 1 and server.seen["caption:street"] >= 1
    assert server.seen["caption:ocr"] == 0
    assert server.seen["instructions"] == 0 and again.stages["instructions"].failed == 16

    # once the model answers, the captions are stored and the images get their instructions
    server.bad = False
    server.seen.clear()
    last = run(rec, tmp_path / "run", workers=1)
    assert server.seen["caption"] == 2 and server.seen["domain"] == 1
    assert last.stages["instructions"].done == server.seen["instructions"] == 16
    assert last.failed == 0 and "units not done" not in status(tmp_path / "run")


def test_a_failed_domain_assignment_is_a_failure_of_the_images_units_retried_next_run(
    fake_openai, tmp_path, images
):
    answers = {"domain": "I would say this is a landmark."}  # not the JSON asked for, twice (repair)

    def reply(req: dict) -> str | None:
        return answers.get(kind(req))

    fake_openai.responder = reply
    rec = parse_recipe(recipe_for(fake_openai, images))
    first = run(rec, tmp_path / "run", workers=1)
    assert first.stages["domains"].failed == 1
    assert first.stages["instructions"].done == 24 and first.stages["instructions"].failed == 8
    with RunStore(tmp_path / "run", create=False) as store:
        street = next(i for _, ref, i, _ in store.iter_inputs() if ref == "street.jpg")
        failed = [(stage, k) for stage, k, _state, _err, _n in store.failed_units()]
    units = {f"mm/{street[:16]}/{t}/{lang}" for t in ("judgement", "multiple_choice", "short_vqa", "long_vqa")
             for lang in ("en", "zh")}  # fmt: skip
    assert sorted(failed) == sorted([("domains", street)] + [("instructions", u) for u in units])

    out = status(tmp_path / "run")
    row = next(line for line in out.splitlines() if line.strip("│┃ ").startswith("instructions"))
    assert [c.strip() for c in row.split("│")[2:5]] == ["24", "8", "0"]  # done, will be retried, gave up
    for u in units:
        assert f"instructions {u}: will be retried after 1 attempts: not written: " in out
    assert "the image's domain assignment failed" in out

    # the rerun retries the assignment (nothing bad was cached) and then writes the image's units
    answers.clear()
    fake_openai.reset()
    again = run(rec, tmp_path / "run", workers=1)
    assert again.stages["domains"].done == 1 and again.stages["instructions"].done == 8
    assert again.failed == 0 and "units not done" not in status(tmp_path / "run")
    with RunStore(tmp_path / "run", create=False) as store:
        made = {s.provenance["unit"] for s in store.iter_samples()}
    assert units <= made


@pytest.mark.parametrize(
    ("reply", "caption"),
    [
        ("Sure! Here is a detailed description:\n\nA red car by a tower.", "A red car by a tower."),
        ("Certainly! The photo shows a red car.", "The photo shows a red car."),
        ("<think>Is it {red}? Yes.</think>\nA red car by a tower.", "A red car by a tower."),
        ("reasoning whose opening tag was dropped</think>A red car.", "A red car."),
        ("A red car by a tower. I hope this helps!", "A red car by a tower."),
        ("好的！以下是这张图片的详细描述：\n一辆红色的汽车停在塔旁。", "一辆红色的汽车停在塔旁。"),
        ("**Description:** A red car.", "A red car."),
        ("Great Wall of China winds over green hills.", "Great Wall of China winds over green hills."),
        ("Here is a red car parked by a tower.", "Here is a red car parked by a tower."),
        ("<think>a reply cut off while thinking", ""),
    ],
)
def test_what_is_not_caption_is_stripped(reply, caption):
    assert clean_caption(reply) == caption


@pytest.mark.parametrize(
    ("reply", "finish", "why"),
    [
        ("I'm sorry, I can't help with that.", "stop", "refused"),
        ("I’m sorry, but I can’t describe people in images.", "stop", "refused"),
        ("I cannot describe this image.", "stop", "refused"),
        ("Sure! Unfortunately, I am unable to see images.", "stop", "refused"),
        ("抱歉，我无法描述这张图片。", "stop", "refused"),
        ("A tall tower stands over old houses, its windows catching the", "length", "cut off"),
        ("A tower.", "stop", "too short"),
        ("<think>all reasoning, no caption</think>", "stop", "empty"),
        ("A sign reads {OPEN in bold letters above the door of the shop.", "stop", "unbalanced"),
        ("A tall grey tower stands over a row of old houses by the river.", "stop", None),
        ("一座高大的灰色塔楼耸立在河边的一排老房子之上。", "stop", None),
    ],
)
def test_caption_checks(reply, finish, why):
    problem = caption_problem(clean_caption(reply), finish, min_words=8)
    assert (problem is None) if why is None else (why in (problem or "")), problem
    assert caption_problem("A fine long caption of the picture here.", refusal="I can't help") is not None
