"""Tests for ``eval --iwae-k``: an importance-sampled log-likelihood bound beside a VAE's ELBO."""

import contextlib
import io
import json

import pytest

from aelab import pretrained
from aelab.cli import main

SHIPPED_VAE = pretrained.default_dir() / "vae-2d"
TINY_ARGS = ["--data", "digits", "--hidden", "32", "--latent-dim", "8", "--epochs", "1"]


def eval_json(capsys, *argv) -> tuple[dict, str]:
    code = main(["eval", *map(str, argv), "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    return json.loads(out), err


def run_json(argv: list[str]) -> dict:
    """Run ``main`` and parse what it printed (module-scoped fixtures cannot use capsys)."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(argv) == 0
    return json.loads(out.getvalue())


@pytest.fixture(scope="module")
def shipped_eval(aelab_cache_dir) -> tuple[dict, dict]:
    """The shipped vae-2d's eval on its 500 held-out digits, without and with a K = 256 IWAE bound."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AELAB_CACHE_DIR", str(aelab_cache_dir))  # the session's cache, never the user's
        return (run_json(["eval", str(SHIPPED_VAE), "--json"]),
                run_json(["eval", str(SHIPPED_VAE), "--json", "--iwae-k", "256"]))


def test_a_vae_gets_neg_iwae_and_keeps_every_other_key(shipped_eval):
    plain, with_iwae = shipped_eval
    assert set(plain) == {"recon_bce", "recon_mse_per_pixel", "kl", "neg_elbo", "n"}
    assert set(with_iwae) == set(plain) | {"neg_iwae", "iwae_k"}
    assert {k: with_iwae[k] for k in plain} == plain  # the same figures, the same draws
    assert with_iwae["iwae_k"] == 256


def test_the_iwae_bound_is_tighter_than_the_elbo_for_the_shipped_vae(shipped_eval):
    """-log p(x) <= -IWAE_256 <= -ELBO in expectation (Burda et al., 2016); the ELBO here averages 16
    draws per digit, so allow half a nat of Monte Carlo noise. Measured: 144.3 against 150.1."""
    _, figures = shipped_eval
    assert figures["neg_iwae"] <= figures["neg_elbo"] + 0.5
    assert figures["neg_elbo"] - figures["neg_iwae"] < 15  # a bound, not a different quantity


def test_with_one_sample_the_iwae_bound_is_the_elbo(capsys):
    """At K = 1 the bound is a one-draw estimate of the ELBO: equal within Monte Carlo noise."""
    figures, _ = eval_json(capsys, SHIPPED_VAE, "--iwae-k", "1")
    assert figures["neg_iwae"] == pytest.approx(figures["neg_elbo"], abs=1.5)


def test_a_model_without_a_prior_gets_no_bound_and_a_note(tmp_path, capsys):
    assert main(["train", "--model", "ae", *TINY_ARGS, "--out", str(tmp_path / "ae")]) == 0
    capsys.readouterr()
    figures, err = eval_json(capsys, tmp_path / "ae", "--iwae-k", "16")
    assert "neg_iwae" not in figures and "iwae_k" not in figures
    assert "no prior" in err


def test_a_negative_sample_count_is_refused(capsys):
    assert main(["eval", str(SHIPPED_VAE), "--iwae-k", "-3"]) == 2
    assert "--iwae-k must be a number of samples >= 1" in capsys.readouterr().err
