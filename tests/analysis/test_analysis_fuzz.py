"""Seeded fuzzing of the results reader and the generic analysis: 320 damaged variants of a valid file.

Every variant either fails with a one-line error naming the file (what the CLI prints), or is analysed
with every record accounted for: each record the standard csv module finds is either analysed or
listed with its line among the problems; records of the wrong length, with undecodable bytes or cut
off at the end are among the problems; repeated assignments and repeated worker answers are reported.
"""

import codecs
import csv
import io

import numpy as np
import pytest
from click.testing import CliRunner

from studykit.analysis.generic import analyze_results, answers_table, vote
from studykit.analysis.load import read_results_csv
from studykit.analysis.qc import QCConfig, apply_qc
from studykit.cli import main

HEADER = ["HITId", "HITTypeId", "Title", "Reward", "AssignmentId", "WorkerId", "AssignmentStatus", "SubmitTime",
          "WorkTimeInSeconds", "Input.task_id", "Input.sentence", "Answer.label", "Answer.confidence",
          "Approve", "Reject"]
N_VARIANTS = 320


def base_file() -> bytes:
    """12 tasks x 3 workers, every cell quoted, CRLF, free text with commas, quotes and newlines, two short rows."""
    rng = np.random.default_rng(0)
    out = io.StringIO(newline="")
    writer = csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator="\r\n")
    writer.writerow(HEADER)
    n = 0
    for task in range(12):
        for worker in rng.choice(6, 3, replace=False):
            n += 1
            sentence = f'Sentence {task}, with "quotes"\nand a second line' if task % 4 == 0 else f"Sentence {task}"
            row = [f"3HIT{task:026d}", "3TYPE", "Label it", "$0.05 ", f"3ASG{n:026d}", f"A{worker:013d}",
                   "Submitted", f"Mon Mar 02 09:{n:02d}:00 PST 2026", str(20 + n), f"t{task:02d}", sentence,
                   "abc"[int(rng.integers(3))], str(int(rng.integers(4))), "", ""]
            writer.writerow(row[:-2] if n in (5, 17) else row)
    return out.getvalue().encode("utf-8")


def records(data: bytes) -> list[tuple[int, list[str]]]:
    """(line, cells) of every non-blank data record, by the standard csv module (the reference)."""
    text = data.decode("utf-8", errors="replace")
    reader = csv.reader(io.StringIO(text, newline=""))
    found, start = [], 1
    previous = csv.field_size_limit(1 << 30)
    try:
        for record in reader:
            if record and not (len(record) == 1 and not record[0].strip()):
                found.append((start, record))
            start = reader.line_num + 1
    finally:
        csv.field_size_limit(previous)
    return found[1:]


def _truncate(data, rng):
    return data[:int(rng.integers(len(data) // 3, len(data)))], "truncate"


def _flip(data, rng):
    data = bytearray(data)
    for _ in range(int(rng.integers(1, 4))):
        data[int(rng.integers(len(data)))] = int(rng.integers(256))
    return bytes(data), "flip"


def _header(data, rng):
    head, sep, body = data.partition(b"\r\n")
    cells = head.split(b",")
    kind = int(rng.integers(4))
    if kind == 0:   # a duplicated name
        i, j = rng.choice(len(cells), 2, replace=False)
        cells[i] = cells[j]
    elif kind == 1:  # a missing cell
        del cells[int(rng.integers(len(cells)))]
    elif kind == 2:  # a renamed column
        cells[int(rng.integers(len(cells)))] = b'"Answer.other"'
    else:            # an extra column
        cells.insert(int(rng.integers(len(cells))), b'"Extra"')
    return b",".join(cells) + sep + body, "header"


def _duplicate(data, rng):
    lines = data.split(b"\r\n")
    simple = [i for i in range(1, len(lines)) if lines[i].startswith(b'"3HIT') and lines[i].endswith(b'""')]
    line = lines[int(rng.choice(simple))] if simple else lines[-1]
    if rng.random() < 0.5:   # the same assignment twice
        return data + line + b"\r\n", "duplicate"
    return data + line.replace(b'"3ASG', b'"3ASX') + b"\r\n", "duplicate"   # the same worker again


def _encoding(data, rng):
    text = data.decode("utf-8", errors="replace").replace("Sentence 3", "Sentence 3 \u00e9t\u00e9")
    kind = int(rng.integers(6))
    if kind == 0:
        return codecs.BOM_UTF16_LE + text.encode("utf-16-le"), "encoding"
    if kind == 1:
        return text.encode("utf-16-be"), "encoding"
    if kind == 2:
        return text.encode("utf-16-le"), "encoding"
    if kind == 3:
        return text.encode("cp1252", errors="replace"), "encoding"
    if kind == 4:
        return codecs.BOM_UTF8 + text.encode("utf-8"), "encoding"
    raw = bytearray(text.encode("utf-8"))
    raw[int(rng.integers(len(raw) // 2, len(raw)))] = 0xFF
    return bytes(raw), "encoding"


def _huge(data, rng):
    big = b"x" * int(rng.integers(140_000, 600_000))
    return data.replace(b"Sentence 7", b"Sentence 7 " + big, 1), "huge"


def _misc(data, rng):
    kind = int(rng.integers(5))
    if kind == 0:
        return data.replace(b"\r\n", b"\r"), "misc"
    if kind == 1:
        return b"", "misc"
    if kind == 2:
        return data.replace(b"\r\n", b"\r\n\r\n", 3), "misc"
    if kind == 3:
        return data.split(b"\r\n")[0] + b"\r\n", "misc"
    lines = data.split(b"\r\n")
    i = int(rng.integers(1, len(lines) - 1))
    lines[i] = lines[i] + b',"extra"'
    return b"\r\n".join(lines), "misc"


DAMAGES = [_truncate, _flip, _header, _duplicate, _encoding, _huge, _misc]


def variant(seed: int) -> tuple[bytes, str]:
    rng = np.random.default_rng([seed, 16])
    data, kind = DAMAGES[seed % len(DAMAGES)](base_file(), rng)
    if seed % 5 == 4 and data:          # a second damage on top
        data, second = DAMAGES[int(rng.integers(len(DAMAGES)))](data, rng)
        kind += "+" + second
    return data, kind


def analyse(path):
    """What the analysis does with the rows before its tables: read, long table, quality control, vote."""
    raw = read_results_csv(path, columns=lambda name: name.startswith("Answer.") or name in (
        "Input.task_id", "AssignmentStatus", "SubmitTime"))
    loaded = answers_table(raw, ["Answer.label"], salt="s", confidence="Answer.confidence")
    checked = apply_qc(loaded, QCConfig(min_annotators=2))
    vote(checked.annotations.frame, weighted=True)
    return loaded, checked.report


def check(path, data: bytes, kind: str) -> str:
    try:
        loaded, qc = analyse(path)
    except (ValueError, FileNotFoundError) as exc:
        message = str(exc)
        assert "\n" not in message.strip(), message
        assert str(path) in message, message
        return "error"
    used = set(loaded.frame["line"])
    reported = set(loaded.problems["line"])
    if "encoding" in kind or "flip" in kind:   # decoding may differ from the reference's replacement
        return "ok"
    reference = records(data)
    assert len(used) + len(loaded.problems) == len(reference), (kind, len(used), len(loaded.problems), len(reference))
    header_len = len(HEADER)
    for line, cells in reference:
        if kind == "huge" or "header" in kind:
            break
        if len(cells) not in (header_len, header_len - 2):
            assert line in reported, (kind, line, len(cells))
    if kind == "duplicate":
        rules = set(qc.exclusions["rule"])
        assert "duplicate_worker" in rules or loaded.problems["reason"].str.contains("repeats").any()
    return "ok"


@pytest.mark.parametrize("block", range(8))
def test_fuzzed_results_never_traceback(tmp_path, block):
    outcomes = {}
    for seed in range(block, N_VARIANTS, 8):
        data, kind = variant(seed)
        path = tmp_path / f"variant_{seed}.csv"
        path.write_bytes(data)
        outcomes[seed] = check(path, data, kind)
    assert len(outcomes) == N_VARIANTS // 8


def test_truncated_inside_a_quoted_cell_is_reported(tmp_path):
    data = base_file()
    cut = data.rindex(b'"Submitted"') + 5
    path = tmp_path / "cut.csv"
    path.write_bytes(data[:cut])
    analysis = analyze_results(path, ["Answer.label"], salt="s")
    last = records(data[:cut])[-1][0]
    reasons = analysis.loaded.problems.set_index("line")["reason"]
    assert reasons.loc[last].startswith("truncated")


def test_encodings_give_the_same_votes(tmp_path):
    text = base_file().decode("utf-8").replace("Sentence 3", "Sentence 3 \u00e9t\u00e9")
    reference = None
    for name, data in {"utf8": text.encode(), "bom": codecs.BOM_UTF8 + text.encode(),
                       "utf16": codecs.BOM_UTF16_LE + text.encode("utf-16-le"), "utf16be": text.encode("utf-16-be"),
                       "cp1252": text.encode("cp1252")}.items():
        path = tmp_path / f"{name}.csv"
        path.write_bytes(data)
        analysis = analyze_results(path, ["Answer.label"], salt="s", confidence="Answer.confidence")
        votes = analysis.votes.to_dict("records")
        reference = reference or votes
        assert votes == reference, name
        if name in ("cp1252", "utf16be"):
            assert analysis.qc.notices, name


def test_cli_subset_prints_one_line_or_a_report(tmp_path):
    for seed in range(3, N_VARIANTS, 20):
        data, kind = variant(seed)
        path = tmp_path / f"v{seed}.csv"
        path.write_bytes(data)
        result = CliRunner().invoke(main, ["analyze", str(path), "--question", "Answer.label", "--out",
                                           str(tmp_path / f"r{seed}"), "--salt", "s"])
        assert "Traceback" not in result.output and result.exception is None or isinstance(result.exception,
                                                                                            SystemExit), kind
        if result.exit_code:
            lines = [line for line in result.output.splitlines() if line.strip()]
            assert len(lines) == 1 and lines[0].startswith("Error:"), (kind, result.output)
        else:
            assert (tmp_path / f"r{seed}" / "votes.csv").is_file()
