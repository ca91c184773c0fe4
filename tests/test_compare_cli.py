"""The ``compare`` command end to end: shipped models on small settings, and every refusal.

The figures themselves (which model is more regular) are asserted elsewhere, on the
shipped pair at full settings; here the runs are small (50 pairs, 300 samples) and the
tests check the command's contract: the schema, the table, the names, the errors.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import shutil
from pathlib import Path

import pytest
import torch

from aelab import checkpoint, models, pretrained, regularity
from aelab.cli import main

SHIPPED = pretrained.default_dir()
AE, VAE = SHIPPED / "ae-2d", SHIPPED / "vae-2d"
SMALL = ["--pairs", "50", "--samples", "300"]
CONTINUITY_KEYS = {"jump_ratio_median", "jump_ratio_p90", "sensitivity_data_median", "sensitivity_samples_median"}
COMPLETENESS_KEYS = {"sampler", "frechet_distance", "density_mean", "coverage_mean"}


def run_main(*argv) -> tuple[int, str, str]:
    """Run the CLI in this process: (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([str(a) for a in argv])
    return code, out.getvalue(), err.getvalue()


def assert_clean_failure(result: tuple[int, str, str], *words: str) -> None:
    code, out, err = result
    assert code != 0
    assert out == ""
    assert err.startswith("error: ") and "Traceback" not in err
    for word in words:
        assert word in err, err


def assert_schema(report: dict, names: list[str]) -> None:
    assert list(report) == ["models", "verdict"]
    assert list(report["models"]) == names
    for figures in report["models"].values():
        assert set(figures) == {"continuity", "completeness"}
        assert set(figures["continuity"]) == CONTINUITY_KEYS
        assert set(figures["completeness"]) == COMPLETENESS_KEYS
        numbers = [*figures["continuity"].values(),
                   *(v for k, v in figures["completeness"].items() if k != "sampler")]
        assert all(isinstance(v, float) and math.isfinite(v) and v >= 0 for v in numbers)
        assert 0 <= figures["completeness"]["coverage_mean"] <= 1
    assert set(report["verdict"]) == {regularity.label(m) for m in regularity.MEASURES}
    for row in report["verdict"].values():
        low, high = row["interval"]
        assert low <= high and row["more_regular"] in (*names, "tie")
        assert (row["more_regular"] == "tie") == (low <= 0 <= high)


@pytest.fixture(scope="module")
def json_run(aelab_cache_dir) -> tuple[int, str, str]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AELAB_CACHE_DIR", str(aelab_cache_dir))
        return run_main("compare", AE, VAE, "--json", *SMALL)


@pytest.fixture(scope="module")
def text_run(aelab_cache_dir) -> tuple[int, str, str]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AELAB_CACHE_DIR", str(aelab_cache_dir))
        return run_main("compare", AE, VAE, *SMALL)


# ---- the report ------------------------------------------------------------------------------


def test_json_report_has_exactly_the_schema(json_run):
    code, out, err = json_run
    assert code == 0, err
    lines = out.strip().splitlines()
    assert len(lines) == 1  # one JSON object, nothing else on stdout
    report = json.loads(lines[0])
    assert_schema(report, ["ae-2d", "vae-2d"])
    assert report["models"]["ae-2d"]["completeness"]["sampler"] == "gaussian"  # each model's native sampler
    assert report["models"]["vae-2d"]["completeness"]["sampler"] == "prior"


def test_the_verdict_is_the_bootstrap_comparison_of_the_two_models(json_run):
    report = json.loads(json_run[1])
    for key, row in report["verdict"].items():
        first, second = (report["models"][n] for n in ("ae-2d", "vae-2d"))
        group = "continuity" if key in first["continuity"] else "completeness"
        assert row["difference"] == pytest.approx(first[group][key] - second[group][key])
        low, high = row["interval"]
        if row["more_regular"] != "tie":  # the lower figure wins where lower is better, else the higher
            first_better = (high < 0) == row["lower_is_better"]
            assert row["more_regular"] == ("ae-2d" if first_better else "vae-2d")


def test_text_report_is_a_table_of_both_models(text_run, json_run):
    code, out, err = text_run
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].startswith("on mnist5k") and "lower is better" in lines[0] and "bootstrap" in lines[0]
    header = lines[1].split()
    assert header == ["measure", "ae-2d", "vae-2d", "more", "regular"]
    rows = {line.split()[0]: line.split()[1:3] for line in lines[2:]}
    verdicts = {line.split()[0]: line.split()[3] for line in lines[2:]}
    json_verdict = json.loads(json_run[1])["verdict"]
    assert all(verdicts[name] == json_verdict.get(name.split(".")[1], {}).get("more_regular", "-")
               for name in verdicts)
    report = json.loads(json_run[1])["models"]
    expected = {f"{g}.{k}" for g in ("continuity", "completeness") for k in report["ae-2d"][g]}
    assert set(rows) == expected
    for name, cells in rows.items():
        group, key = name.split(".")
        assert len(cells) == 2
        for cell, model in zip(cells, ("ae-2d", "vae-2d"), strict=True):
            value = report[model][group][key]
            if isinstance(value, str):
                assert cell == value
            else:  # the same seeded figures as the JSON run, to 4 significant digits
                assert float(cell) == pytest.approx(value, rel=1e-3, abs=1e-9)


def test_text_table_columns_line_up(text_run):
    lines = text_run[1].splitlines()[1:]
    ends = {len(line) for line in lines}
    assert len(ends) == 1, lines


# ---- names -----------------------------------------------------------------------------------


def test_two_copies_with_the_same_folder_name_are_reported_apart(tmp_path):
    first, second = tmp_path / "runs-a" / "ae-2d", tmp_path / "runs-b" / "ae-2d"
    shutil.copytree(AE, first)
    shutil.copytree(AE, second)
    code, out, err = run_main("compare", first, second, "--json", *SMALL)
    assert code == 0, err
    report = json.loads(out)
    assert_schema(report, [str(first), str(second)])
    a, b = report["models"].values()
    assert a == b  # the same weights, measured with the same seed


def test_the_same_folder_twice_is_refused_or_reported_twice():
    code, out, err = run_main("compare", AE, AE / "config.json", "--json", *SMALL)
    assert code != 0 or len(json.loads(out)["models"]) == 2


# ---- refusals --------------------------------------------------------------------------------


def test_models_with_different_latent_sizes_are_refused_with_the_reason():
    assert_clean_failure(run_main("compare", AE, SHIPPED / "vae-16d", "--json", *SMALL),
                         "cannot compare", "latent sizes differ", "2 and 16", "ae-2d", "vae-16d")


@pytest.fixture()
def tiny_8x8_model(tmp_path) -> Path:
    # latent_dim 8: see test_cli.py on the weights file that load() mistakes for a pickle
    torch.manual_seed(0)
    model = models.build("ae", image_shape=(8, 8), latent_dim=8, hidden=(32,))
    return checkpoint.save(model, tmp_path / "tiny", {"data": {"spec": "digits"}})


def test_models_of_different_image_sizes_are_refused_with_the_reason(tiny_8x8_model):
    assert_clean_failure(run_main("compare", tiny_8x8_model, AE, *SMALL), "8x8", "28x28")


def test_a_folder_that_is_not_a_model_is_refused(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    assert_clean_failure(run_main("compare", AE, tmp_path, "--json"), str(tmp_path), "config.json")
    assert_clean_failure(run_main("compare", tmp_path, AE, "--json"), str(tmp_path), "config.json")


def test_the_shipped_judge_folder_is_not_taken_for_a_model():
    assert_clean_failure(run_main("compare", AE, pretrained.judge_dir()), "digit classifier", "not an autoencoder")


def test_a_missing_folder_is_refused():
    assert_clean_failure(run_main("compare", AE, SHIPPED / "no-such-model"), "no-such-model", "does not exist")


def test_a_pt_file_is_refused_as_a_pickle(tmp_path):
    path = tmp_path / "model.pt"
    torch.save(checkpoint.load(AE).model.state_dict(), path)
    assert_clean_failure(run_main("compare", AE, path, "--json"), "pickle", str(path))


@pytest.mark.parametrize("option", [["--pairs", "1"], ["--pairs", "0"], ["--samples", "5"]])
def test_too_few_pairs_or_samples_are_refused(option):
    assert_clean_failure(run_main("compare", AE, VAE, "--json", *option), option[0])


def test_models_of_another_data_set_get_a_judge_of_their_own(tmp_path):
    """Two 8x8 models: the data default to the first model's (digits), and a judge is trained for them."""
    for kind in ("ae", "vae"):
        torch.manual_seed(0)
        checkpoint.save(models.build(kind, image_shape=(8, 8), latent_dim=8, hidden=(32,)), tmp_path / kind,
                        {"data": {"spec": "digits"}})
    code, out, err = run_main("compare", tmp_path / "ae", tmp_path / "vae", *SMALL)
    assert code == 0, err
    assert out.startswith("on digits") and out.splitlines()[1].split() == ["measure", "ae", "vae", "more", "regular"]
