"""VLMEvalKit's sheets: circular MMBench scored as VLMEvalKit scores it, the .xlsx / .tsv /
.csv forms, and the `*_acc.csv` / `*_score.csv` summaries read as category-level input.

The expected figures are computed here from VLMEvalKit's rule (`mcq_circular_eval`: group the
rows by `index % 1,000,000`, count the original row only, right when every copy is right;
`report_acc`: one column per l2-category and category), never with the importer's code."""

from __future__ import annotations

import csv
import random
from pathlib import Path

import pytest

from visinstruct.cli import main
from visinstruct.loop.importers import ResultsError, load_results
from visinstruct.loop.weakness import quotas, summary_stats, weights

STEP = 1_000_000
L2 = {
    "image_emotion": "coarse_perception",
    "ocr": "finegrained_perception (instance-level)",
    "future_prediction": "logic_reasoning",
}
ABBR = {
    "coarse_perception": "CP",
    "finegrained_perception (instance-level)": "FP-S",
    "logic_reasoning": "LR",
}
HEADER = ["index", "question", "hint", "A", "B", "C", "D", "answer", "category", "l2-category", "prediction"]


def circular_sheet(seed: int = 7) -> list[dict[str, str]]:
    """An MMBench_DEV_EN prediction sheet as VLMEvalKit writes it: each question, then its
    rotations under index + k·1,000,000 (one per further option), options rotated with the answer."""
    rng = random.Random(seed)
    rows = []
    cats = list(L2)
    for q in range(1, 25):
        cat = cats[q % len(cats)]
        k = 4 if q % 5 else 3  # some questions have three options
        options = [f"opt{q}-{j}" for j in range(k)]
        gold = rng.randrange(k)
        for rot in range(k):
            rotated = options[rot:] + options[:rot]
            answer = "ABCD"[rotated.index(options[gold])]
            r = rng.random()
            if r < 0.8:
                pred = answer
            elif r < 0.93:
                pred = "ABCD"[(rotated.index(options[gold]) + 1) % k]
            else:
                pred = "I cannot tell"
            if rng.random() < 0.3 and pred in "ABCD":
                pred += "."
            row = {
                "index": str(q + rot * STEP),
                "question": f"Question {q}?",
                "hint": "",
                "answer": answer,
                "category": cat,
                "l2-category": L2[cat],
                "prediction": pred,
            }
            for j, letter in enumerate("ABCD"):
                row[letter] = rotated[j] if j < k else ""
            rows.append(row)
    # VLMEvalKit evaluates sorted by index: the copies come after every original
    return sorted(rows, key=lambda r: int(r["index"]))


def lone_letter(prediction: str) -> str | None:
    p = prediction.strip().rstrip(".")
    return p if len(p) == 1 and p in "ABCD" else None


def circular_expected(rows: list[dict[str, str]]) -> dict[str, tuple[int, int]]:
    """category → (right, n) by VLMEvalKit's circular rule, from the sheet's rows."""
    groups: dict[int, list[dict[str, str]]] = {}
    for r in rows:
        groups.setdefault(int(r["index"]) % STEP, []).append(r)
    out: dict[str, tuple[int, int]] = {}
    for r in rows:
        if int(r["index"]) >= STEP:
            continue
        right = all(lone_letter(c["prediction"]) == c["answer"] for c in groups[int(r["index"])])
        c, n = out.get(r["category"], (0, 0))
        out[r["category"]] = (c + right, n + 1)
    return out


def per_copy(rows: list[dict[str, str]]) -> dict[str, tuple[int, int]]:
    out: dict[str, tuple[int, int]] = {}
    for r in rows:
        c, n = out.get(r["category"], (0, 0))
        out[r["category"]] = (c + (lone_letter(r["prediction"]) == r["answer"]), n + 1)
    return out


def write_table(rows: list[dict[str, str]], path: Path) -> None:
    if path.suffix == ".xlsx":
        openpyxl = pytest.importorskip("openpyxl")
        wb = openpyxl.Workbook()
        ws = wb.active
        ws.append(HEADER)
        for r in rows:  # pandas writes the index as a number and empty cells as nothing
            ws.append([int(r[h]) if h == "index" else (r[h] or None) for h in HEADER])
        wb.save(path)
        return
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, delimiter="\t" if path.suffix == ".tsv" else ",")
        w.writerow(HEADER)
        for r in rows:
            w.writerow([r[h] for h in HEADER])


@pytest.mark.parametrize("suffix", [".xlsx", ".tsv", ".csv"])
def test_circular_mmbench_counts_questions_right_only_when_every_copy_is(tmp_path, suffix):
    rows = circular_sheet()
    expected = circular_expected(rows)
    questions = sum(1 for r in rows if int(r["index"]) < STEP)
    assert sum(n for _, n in expected.values()) == questions == 24
    copies = per_copy(rows)
    # the sheet is one where counting each copy would inflate both n and accuracy
    assert sum(n for _, n in copies.values()) > questions
    assert sum(c for c, _ in copies.values()) / sum(n for _, n in copies.values()) > sum(
        c for c, _ in expected.values()
    ) / sum(n for _, n in expected.values())

    sheet = tmp_path / f"llava_v1.5_7b_MMBench_DEV_EN{suffix}"
    write_table(rows, sheet)
    result = load_results(sheet)
    assert result.format == "vlmevalkit" and result.benchmark == "mmbench"
    assert result.accuracy_by_category() == expected
    assert [r.id for r in result.records] == [r["index"] for r in rows if int(r["index"]) < STEP]
    by_id = {r.id: r for r in result.records}
    first = by_id["1"]
    assert [c["index"] for c in first.extra["circular"]] == [str(1 + k * STEP) for k in (1, 2, 3)]
    assert first.extra["l2-category"] == L2[first.category] == L2[rows[0]["category"]]
    # an unscorable copy is named as a problem on its own row and fails its question
    unscorable = [r for r in rows if r["prediction"] == "I cannot tell"]
    assert unscorable
    for r in unscorable:
        assert not by_id[str(int(r["index"]) % STEP)].correct
    assert len(result.problems) == len(unscorable)


def test_a_rotated_copy_without_its_question_is_not_counted(tmp_path):
    rows = circular_sheet()
    kept = [r for r in rows if r["index"] != "2"]  # the original of question 2 is missing
    sheet = tmp_path / "m_MMBench_DEV_EN.tsv"
    write_table(kept, sheet)
    result = load_results(sheet)
    assert "2" not in {r.id for r in result.records}
    assert result.accuracy_by_category() == circular_expected(kept)
    orphans = [p for p in result.problems if "not in the sheet" in p.reason]
    assert len(orphans) == sum(1 for r in kept if int(r["index"]) % STEP == 2)
    assert orphans[0].reason.startswith(f"rotated copy {STEP + 2} of question 2")


def report_acc(rows: list[dict[str, str]]) -> tuple[list[str], list[str]]:
    """VLMEvalKit's `report_acc` on the circular result of `rows`: (header, the one row)."""
    expected = circular_expected(rows)
    hits = []  # (category, l2, hit) per question
    for cat, (c, n) in expected.items():
        hits += [(cat, L2[cat], 1)] * c + [(cat, L2[cat], 0)] * (n - c)
    header, row = ["split", "Overall"], ["none", sum(h for *_, h in hits) / len(hits)]
    for l2 in sorted({h[1] for h in hits}):
        sub = [h[2] for h in hits if h[1] == l2]
        header.append(ABBR[l2])
        row.append(sum(sub) / len(sub))
    for cat in sorted(expected):
        c, n = expected[cat]
        header.append(cat)
        row.append(c / n)
    return header, [str(v) for v in row]


def test_acc_csv_is_read_as_category_level_input(tmp_path):
    rows = circular_sheet()
    header, values = report_acc(rows)
    acc = tmp_path / "llava_v1.5_7b_MMBench_DEV_EN_acc.csv"
    with acc.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerow(values)
    result = load_results(acc)
    assert result.records == [] and result.benchmark == "mmbench"
    expected = {cat: c / n for cat, (c, n) in circular_expected(rows).items()}
    assert result.summary == pytest.approx(expected)
    assert set(result.summary) == set(L2)  # Overall, split and CP / FP-S / LR are not categories
    assert result.problems == []

    # the per-question sheet and its summary give the same weights
    sheet = tmp_path / "llava_v1.5_7b_MMBench_DEV_EN.tsv"
    write_table(rows, sheet)
    from_sheet = {s.category: s.accuracy for s in summary_stats(result.summary)}
    per_q = {c: k / n for c, (k, n) in load_results(sheet).accuracy_by_category().items()}
    assert from_sheet == pytest.approx(per_q)


def test_weakness_command_on_a_summary_says_it_has_no_bad_cases(tmp_path, capsys):
    acc = tmp_path / "m_MMBench_DEV_EN_acc.csv"
    acc.write_text(
        "split,Overall,CP,FP-S,LR,image_emotion,ocr,future_prediction\nnone,0.6,0.9,0.7,0.2,0.9,0.7,0.2\n",
        "utf-8",
    )
    main(["weakness", str(acc), "--total", "100"])
    out = "".join(capsys.readouterr())
    assert "no bad cases" in out and "category-level summary" in out
    # weights from the summary's errors (0.1, 0.3, 0.8) with the 5% floor: 0.05 + 0.85·e/Σe
    share = {
        c: 0.05 + 0.85 * e / 1.2
        for c, e in {"image_emotion": 0.1, "ocr": 0.3, "future_prediction": 0.8}.items()
    }
    q = {c: round(100 * w) for c, w in share.items()}
    assert sum(q.values()) == 100
    for cat, acc_pct in (("future_prediction", "20.0%"), ("ocr", "70.0%"), ("image_emotion", "90.0%")):
        line = next(x for x in out.splitlines() if cat in x and "%" in x)
        assert f"{acc_pct} (summary)" in line
        assert line.rstrip(" │|").split()[-1] == str(q[cat])
    assert "CP" not in out.split("where the data")[0]


def test_score_csv_percentages_and_mme_scores(tmp_path):
    pct = tmp_path / "m_POPE_score.csv"  # default_rating: percentages
    pct.write_text("Overall,adversarial,popular,random\n85.0,80.0,86.0,89.0\n", "utf-8")
    result = load_results(pct)
    assert result.summary == pytest.approx({"adversarial": 0.8, "popular": 0.86, "random": 0.89})
    assert [p.reason for p in result.problems] == ["figures above 1 read as percentages"]

    mme = tmp_path / "m_MME_score.csv"  # MME_rating: acc + acc+ per category, sums per task
    mme.write_text("perception,reasoning,OCR,code_reasoning\n1500.0,300.0,150.0,50.0\n", "utf-8")
    result = load_results(mme)
    assert result.summary == pytest.approx({"OCR": 0.75, "code_reasoning": 0.25})


def test_summaries_that_cannot_be_read_say_why(tmp_path):
    two = tmp_path / "m_MMBench_acc.csv"
    two.write_text("split,Overall,ocr\ndev,0.5,0.5\ntest,0.6,0.6\n", "utf-8")
    with pytest.raises(
        ResultsError, match=r"m_MMBench_acc\.csv: the summary holds 2 rows \(splits dev, test\)"
    ):
        load_results(two)
    overall = tmp_path / "m_X_acc.csv"
    overall.write_text("split,Overall\nnone,0.5\n", "utf-8")
    with pytest.raises(ResultsError, match="no per-category column"):
        load_results(overall)


def test_quotas_from_a_summary_follow_its_accuracies():
    stats = summary_stats({"a": 0.9, "b": 0.5})
    assert [s.category for s in stats] == ["b", "a"] and all(s.summary and s.n == 0 for s in stats)
    q = quotas(weights(stats, floor=0.0), 60)
    assert q == {"a": 10, "b": 50}


def test_the_loop_refuses_a_summary_naming_what_it_needs(tmp_path, capsys):
    acc = tmp_path / "m_MMBench_DEV_EN_acc.csv"
    acc.write_text("split,Overall,ocr,image_emotion\nnone,0.5,0.4,0.6\n", "utf-8")
    (tmp_path / "base.yaml").write_text("name: base\nseed: 1\nlanguages: [en]\nsynthetic: {scenes: 1}\n")
    loop = tmp_path / "loop.yaml"
    loop.write_text(
        f"name: s\nrecipe: base.yaml\nresults: {acc.name}\nrounds: 1\nsamples_per_round: 10\n"
        "hooks: {train: never-run}\n"
    )
    with pytest.raises(SystemExit):
        main(["loop", str(loop), "--loop-dir", str(tmp_path / "L")])
    err = "".join(capsys.readouterr())
    assert "m_MMBench_DEV_EN_acc.csv: a category-level summary" in err
    assert "needs per-question results" in err
