"""What a new user of the sentiment commands runs into: stored model ids after the folder
is gone, ids that were never stored, language codes, an empty sample, `-o -`, output
into `| head`, a labels file from another database, a second model after the first,
and the error for a bad setting's value."""

from __future__ import annotations

import csv
import io
import json
import shutil
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sentiment_pipeline.cli import app
from sentiment_pipeline.errors import ConfigError
from sentiment_pipeline.sentiment.scorers import is_model_spec, model_id_for, stored_model_id
from tests.fixtures.onnx_model import build
from tests.test_sentiment import SENTPIPE, _event, _setup

runner = CliRunner()
TEXTS = [
    "I really love how this community helps new people, thank you all",
    "this update is awful and I hate the new battery drain",
    "the market opened flat today and nothing much happened",
    "what a great answer, this solved my problem",
]


@pytest.fixture
def scored(sqlite_url: str, tmp_path: Path) -> dict[str, str]:
    """A SQLite database with four events scored by VADER; the CLI environment."""
    _setup(sqlite_url, [_event(i, text) for i, text in enumerate(TEXTS)]).dispose()
    env = {"SENTPIPE_DATABASE_URL": sqlite_url, "SENTPIPE_DATA_DIR": str(tmp_path)}
    assert runner.invoke(app, ["sentiment", "score"], env=env).exit_code == 0
    return env


def test_a_stored_onnx_id_reads_its_scores_after_the_folder_is_gone(
    scored: dict[str, str], tmp_path: Path
) -> None:
    folder = build(tmp_path / "m1")
    spec = f"onnx:{folder}"
    model_id = model_id_for(spec)
    note = runner.invoke(app, ["sentiment", "score", "--model", spec, "--json"], env=scored)
    assert json.loads(note.output)["scored"] == 0
    assert f"--model {spec} --rescore" in json.loads(note.output)["notes"][0]
    done = runner.invoke(app, ["sentiment", "score", "--model", spec, "--rescore"], env=scored)
    assert done.exit_code == 0, done.output
    shutil.rmtree(folder)
    assert not is_model_spec(model_id) and stored_model_id(model_id) == model_id
    report = runner.invoke(app, ["sentiment", "report", "--model", model_id, "--json"], env=scored)
    assert report.exit_code == 0, report.output
    assert sum(row["events"] for row in json.loads(report.output)["rows"]) == 4
    out = tmp_path / "x.csv"
    exported = runner.invoke(
        app,
        [
            "export",
            "csv",
            "-o",
            str(out),
            "--columns",
            "id,sentiment_label",
            "--sentiment-model",
            model_id,
        ],
        env=scored,
    )
    assert exported.exit_code == 0, exported.output
    assert all(row["sentiment_label"] for row in csv.DictReader(io.StringIO(out.read_text())))


def test_a_model_file_instead_of_its_folder_says_which_folder(tmp_path: Path) -> None:
    folder = build(tmp_path / "m1")
    with pytest.raises(ConfigError) as raised:
        model_id_for(f"onnx:{folder / 'model.onnx'}")
    assert raised.value.hint == f"use --model onnx:{folder}"


@pytest.mark.parametrize("command", ["report", "sample"])
def test_an_id_never_stored_is_exit_2_listing_the_stored_ones(
    scored: dict[str, str], tmp_path: Path, command: str
) -> None:
    args = ["sentiment", command, "--model", "vader-9.9.9"]
    args += ["-o", str(tmp_path / "s.csv")] if command == "sample" else []
    result = runner.invoke(app, args, env=scored)
    assert result.exit_code == 2, result.output
    assert "vader-9.9.9" in result.output and model_id_for("vader") in result.output
    assert not (tmp_path / "s.csv").exists()


def test_a_sample_of_nothing_writes_no_file(scored: dict[str, str], tmp_path: Path) -> None:
    out = tmp_path / "s.csv"
    args = ["sentiment", "sample", "-o", str(out), "--since", "2030-01-01"]
    result = runner.invoke(app, args, env=scored)
    assert result.exit_code == 1 and "nothing to sample" in result.output
    assert not out.exists()


def test_sample_to_standard_output(scored: dict[str, str], tmp_path: Path) -> None:
    result = runner.invoke(app, ["sentiment", "sample", "--n", "2", "-o", "-"], env=scored)
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert len(rows) == 2 and set(rows[0]) >= {"id", "text", "label"}
    assert not (Path.cwd() / "-").exists()


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["score", "--language", "english"], "Use 'en'"),
        (["score", "--language", ""], "unknown language code ''"),
        (["report", "--language", "xx"], "unknown language code 'xx'"),
    ],
)
def test_language_codes_are_checked(scored: dict[str, str], args: list[str], expected: str) -> None:
    result = runner.invoke(app, ["sentiment", *args], env=scored)
    assert result.exit_code == 2 and expected in result.output, result.output
    assert len(result.output.strip().splitlines()) == 1


def test_report_language_any_means_every_language(scored: dict[str, str]) -> None:
    result = runner.invoke(app, ["sentiment", "report", "--language", "any", "--json"], env=scored)
    data = json.loads(result.output)
    assert data["filters"]["languages"] == [] and data["rows"]


def test_a_model_declaring_an_unknown_language_is_refused(tmp_path: Path) -> None:
    folder = build(tmp_path / "m1")
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "languages": ["english"]}))
    result = runner.invoke(
        app,
        ["sentiment", "score", "--model", f"onnx:{folder}"],
        env={"SENTPIPE_DATA_DIR": str(tmp_path)},
    )
    assert result.exit_code == 2 and "Use 'en'" in result.output, result.output


def test_labels_from_another_database_are_an_error(scored: dict[str, str], tmp_path: Path) -> None:
    labels = tmp_path / "l.csv"
    labels.write_text("id,label\nt1_999998,positive\nt1_999999,negative\n")
    result = runner.invoke(app, ["sentiment", "eval", "--labels", str(labels)], env=scored)
    assert result.exit_code == 1 and "none of its 2 ids is stored" in result.output


@pytest.mark.parametrize(
    "command", [["sentiment", "report"], ["sentiment", "report", "--json"], ["stats"]]
)
def test_output_into_head_is_a_success(scored: dict[str, str], command: list[str]) -> None:
    """`sentpipe … | head -c 5`: the reader closes the pipe early; that is no error."""
    done = subprocess.run(
        ["bash", "-c", f'"{SENTPIPE}" {" ".join(command)} | head -c 5; exit "${{PIPESTATUS[0]}}"'],
        env={**scored, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "Error" not in done.stderr and "Traceback" not in done.stderr


def test_a_bad_setting_names_its_variable_value_and_origin(tmp_path: Path) -> None:
    env = {"SENTPIPE_DATA_DIR": str(tmp_path), "SENTPIPE_SCORER_THREADS": "abc"}
    result = runner.invoke(app, ["stats"], env=env)
    assert result.exit_code == 2
    assert "scorer_threads = 'abc' from SENTPIPE_SCORER_THREADS in the environment" in (
        result.output
    )
    assert "unset SENTPIPE_SCORER_THREADS" in result.output


def test_a_command_in_a_hint_keeps_its_case() -> None:
    assert (
        ConfigError("x", "pip install 'sentpipe[onnx]'")
        .one_line()
        .endswith(". pip install 'sentpipe[onnx]'")
    )
    assert ConfigError("x", "run it again").one_line() == "x. Run it again"
