"""Tests for aelab.checkpoint: exact round-trips, atomic saves, and never unpickling."""

import json
import pickle
from pathlib import Path

import pytest
import safetensors.torch
import torch

from aelab import checkpoint, models
from aelab.checkpoint import CONFIG_NAME, WEIGHTS_NAME
from aelab.errors import CheckpointError
from aelab.models import KINDS

INFO = {"description": "a test model", "data": {"spec": "digits", "n_val": 180},
        "metrics": {"recon_bce": 12.5, "n": 180}}


def outputs(model: models.Autoencoder, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    with torch.no_grad():
        return model.encode(x), model(x)


def assert_same_outputs(a: models.Autoencoder, b: models.Autoencoder, x: torch.Tensor) -> None:
    for got, want in zip(outputs(a, x), outputs(b, x), strict=True):
        torch.testing.assert_close(got, want, rtol=0, atol=0)


def folder_snapshot(folder: Path) -> dict[str, bytes]:
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in files}


@pytest.fixture()
def saved(tmp_path, tiny_model) -> Path:
    """A saved AE: tmp_path/models/ae holding config.json and model.safetensors."""
    target = tmp_path / "models" / "ae"
    checkpoint.save(tiny_model("ae"), target, INFO)
    return target


def edit_config(folder: Path, change) -> None:
    config = json.loads((folder / CONFIG_NAME).read_text())
    change(config)
    (folder / CONFIG_NAME).write_text(json.dumps(config))


# --- round trips ---------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_round_trip_gives_identical_outputs(kind, tmp_path, tiny_model, digits_batch):
    model = tiny_model(kind, custom=True)
    target = checkpoint.save(model, tmp_path / "model", INFO)
    loaded = checkpoint.load(target)
    assert type(loaded.model) is type(model)
    assert loaded.model.config() == model.config()
    assert not loaded.model.training
    assert_same_outputs(loaded.model, model, digits_batch)
    assert loaded.info.items() >= INFO.items()
    assert loaded.info["kind"] == kind and loaded.info["model"] == model.config()
    assert loaded.path == target and loaded.name == "model"
    assert checkpoint.read_config(target) == loaded.info


@pytest.mark.parametrize("kind", KINDS)
def test_round_trip_on_28x28_with_an_overcomplete_code(kind, tmp_path, mnist_batch):
    model = models.build(kind, image_shape=(28, 28), latent_dim=300, hidden=(32,))
    loaded = checkpoint.load(checkpoint.save(model, tmp_path / "model"))
    assert_same_outputs(loaded.model, model, mnist_batch)


@pytest.mark.parametrize("kind", KINDS)
def test_round_trip_of_the_smallest_digits_model(kind, tmp_path, digits_batch):
    model = models.build(kind, image_shape=(8, 8), latent_dim=2, hidden=(32,))
    target = checkpoint.save(model, tmp_path / "model")
    assert (target / WEIGHTS_NAME).read_bytes()[:1] == b"\x80"  # header length 640 = 0x280
    assert_same_outputs(checkpoint.load(target).model, model, digits_batch)


@pytest.mark.parametrize("name", [CONFIG_NAME, WEIGHTS_NAME])
def test_load_accepts_a_file_inside_the_model_folder(name, saved):
    assert checkpoint.load(saved / name).path == saved


def test_save_writes_exactly_two_files_and_no_temp_folders(saved):
    assert sorted(p.name for p in saved.iterdir()) == [CONFIG_NAME, WEIGHTS_NAME]
    assert [p.name for p in saved.parent.iterdir()] == ["ae"]
    config = json.loads((saved / CONFIG_NAME).read_text())
    assert config["format"] == "aelab-model" and config["format_version"] == checkpoint.FORMAT_VERSION


def test_weights_file_is_plain_safetensors(saved, tiny_model):
    weights = safetensors.torch.load_file(str(saved / WEIGHTS_NAME))
    expected = tiny_model("ae").state_dict()
    assert weights.keys() == expected.keys()
    assert all(torch.equal(weights[k], expected[k]) for k in expected)


def test_saving_over_a_model_replaces_it(saved, tiny_model, digits_batch):
    replacement = tiny_model("vae", seed=1, beta=0.5)
    checkpoint.save(replacement, saved, {"description": "second"})
    loaded = checkpoint.load(saved)
    assert isinstance(loaded.model, models.VAE) and loaded.info["description"] == "second"
    assert "metrics" not in loaded.info  # nothing of the old config survives
    assert_same_outputs(loaded.model, replacement, digits_batch)
    assert [p.name for p in saved.parent.iterdir()] == ["ae"]


def test_saving_into_an_empty_folder_is_allowed(tmp_path, tiny_model):
    (tmp_path / "empty").mkdir()
    checkpoint.save(tiny_model("ae"), tmp_path / "empty")
    assert checkpoint.load(tmp_path / "empty").info["kind"] == "ae"


def test_saving_onto_a_folder_with_other_files_refuses_and_leaves_it_alone(tmp_path, tiny_model):
    folder = tmp_path / "thesis"
    folder.mkdir()
    (folder / "chapter1.tex").write_text("precious")
    (folder / CONFIG_NAME).write_text('{"not": "a model"}')
    before = folder_snapshot(folder)
    with pytest.raises(CheckpointError, match="refusing to overwrite"):
        checkpoint.save(tiny_model("ae"), folder)
    assert folder_snapshot(folder) == before
    assert [p.name for p in tmp_path.iterdir()] == ["thesis"]


def test_saving_onto_a_file_refuses(tmp_path, tiny_model):
    target = tmp_path / "model"
    target.write_text("a file")
    with pytest.raises(CheckpointError, match="not an aelab model folder"):
        checkpoint.save(tiny_model("ae"), target)
    assert target.read_text() == "a file"


def test_a_crash_while_writing_weights_keeps_the_old_model(monkeypatch, saved, tiny_model, digits_batch):
    before = folder_snapshot(saved)

    def crash_midway(tensors, filename, metadata=None):
        Path(filename).write_bytes(b"half a file")
        raise OSError("disk full")

    monkeypatch.setattr(checkpoint, "save_file", crash_midway)
    with pytest.raises(OSError, match="disk full"):
        checkpoint.save(tiny_model("vae", seed=1), saved)
    assert folder_snapshot(saved) == before
    assert [p.name for p in saved.parent.iterdir()] == ["ae"]
    assert_same_outputs(checkpoint.load(saved).model, tiny_model("ae"), digits_batch)


def test_a_crash_while_swapping_folders_keeps_the_old_model(monkeypatch, saved, tiny_model, digits_batch):
    before = folder_snapshot(saved)
    real_replace = checkpoint.os.replace

    def fail_on_the_swap(src, dst):
        if ".tmp-" in Path(src).name and Path(dst) == saved:
            raise OSError("power cut")
        return real_replace(src, dst)

    monkeypatch.setattr(checkpoint.os, "replace", fail_on_the_swap)
    with pytest.raises(OSError, match="power cut"):
        checkpoint.save(tiny_model("vae", seed=1), saved)
    monkeypatch.undo()
    assert folder_snapshot(saved) == before
    assert [p.name for p in saved.parent.iterdir()] == ["ae"]
    assert_same_outputs(checkpoint.load(saved).model, tiny_model("ae"), digits_batch)


def test_info_cannot_override_what_the_model_is(tmp_path, saved, tiny_model, digits_batch):
    old_info = checkpoint.load(saved).info  # e.g. re-using a loaded model's metadata
    vae = tiny_model("vae", seed=1)
    try:
        checkpoint.save(vae, tmp_path / "vae", old_info)
    except CheckpointError:
        return  # refusing is fine too
    loaded = checkpoint.load(tmp_path / "vae")
    assert loaded.info["kind"] == "vae"
    assert_same_outputs(loaded.model, vae, digits_batch)


# --- pickles are refused and never unpickled --------------------------------------


def torch_pickle(path: Path, model: models.Autoencoder) -> Path:
    torch.save(model.state_dict(), path)
    return path


def plain_pickle(path: Path, model: models.Autoencoder) -> Path:
    path.write_bytes(pickle.dumps({k: v.numpy() for k, v in model.state_dict().items()}))
    return path


@pytest.mark.parametrize("write", [torch_pickle, plain_pickle])
@pytest.mark.parametrize("name", ["model.pt", "model.pth", "weights.pkl", "weights.dat"])
def test_loading_a_pickle_file_is_refused(name, write, tmp_path, tiny_model, no_unpickling):
    path = write(tmp_path / name, tiny_model("ae"))
    with pytest.raises(CheckpointError, match="pickle") as info:
        checkpoint.load(path)
    assert str(path) in str(info.value)


@pytest.mark.parametrize("write", [torch_pickle, plain_pickle])
def test_a_pickle_renamed_to_model_safetensors_is_refused(write, saved, tiny_model, no_unpickling):
    write(saved / WEIGHTS_NAME, tiny_model("ae"))
    with pytest.raises(CheckpointError, match="pickle") as info:
        checkpoint.load(saved)
    assert WEIGHTS_NAME in str(info.value)


def test_a_folder_holding_only_a_pt_file_is_refused(tmp_path, tiny_model, no_unpickling):
    folder = tmp_path / "old-model"
    folder.mkdir()
    torch_pickle(folder / "model.pt", tiny_model("ae"))
    with pytest.raises(CheckpointError, match="pickle") as info:
        checkpoint.load(folder)
    assert "model.pt" in str(info.value)


# --- broken folders: a CheckpointError that names the file --------------------------


def test_missing_folder(tmp_path):
    with pytest.raises(CheckpointError, match="does not exist"):
        checkpoint.load(tmp_path / "nowhere")


def test_missing_config(saved):
    (saved / CONFIG_NAME).unlink()
    with pytest.raises(CheckpointError, match=f"{CONFIG_NAME} is missing"):
        checkpoint.load(saved)


def test_missing_weights(saved):
    (saved / WEIGHTS_NAME).unlink()
    with pytest.raises(CheckpointError, match=f"{WEIGHTS_NAME} is missing"):
        checkpoint.load(saved)


def test_a_plain_file_is_not_a_model(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(CheckpointError, match="not an aelab model folder"):
        checkpoint.load(tmp_path / "notes.txt")


@pytest.mark.parametrize("text", ["{not json", "", "[1, 2]", '"a string"'])
def test_invalid_config_json(text, saved):
    (saved / CONFIG_NAME).write_text(text)
    with pytest.raises(CheckpointError) as info:
        checkpoint.load(saved)
    assert str(saved / CONFIG_NAME) in str(info.value)


@pytest.mark.parametrize(
    "change, words",
    [
        (lambda c: c.update(kind="gan"), "unknown model kind 'gan'"),
        (lambda c: c.pop("kind"), "lacks the key.*kind"),
        (lambda c: c.pop("model"), "lacks the key.*model"),
        (lambda c: c.pop("format_version"), "lacks the key.*format_version"),
        (lambda c: c.pop("format"), "not an aelab model config"),
        (lambda c: c.update(format="something-else"), "not an aelab model config"),
        (lambda c: c.update(format_version=checkpoint.FORMAT_VERSION + 1), "Upgrade aelab"),
        (lambda c: c.update(format_version="1"), "format_version"),
        (lambda c: c.update(model=[8, 8]), "'model' must be an object"),
        (lambda c: c["model"].update(latent_dim=0), "latent_dim"),
        (lambda c: c["model"].update(recon_loss="l2"), "unknown reconstruction loss"),
        (lambda c: c["model"].update(colour="blue"), "bad settings"),
    ],
)
def test_bad_config_content(change, words, saved):
    edit_config(saved, change)
    with pytest.raises(CheckpointError, match=words) as info:
        checkpoint.load(saved)
    assert str(saved / CONFIG_NAME) in str(info.value)


@pytest.mark.parametrize(
    "change",
    [
        lambda c: c["model"].update(latent_dim="two"),  # ValueError from int()
        lambda c: c.update(kind=["ae"]),  # TypeError: unhashable list in REGISTRY[kind]
        lambda c: c["model"].update(kind="ae"),  # TypeError: build() got multiple values for 'kind'
    ],
    ids=["latent_dim-string", "kind-list", "kind-inside-model"],
)
def test_wrongly_typed_config_values(change, saved):
    edit_config(saved, change)
    with pytest.raises(CheckpointError):
        checkpoint.load(saved)


def test_weights_of_the_wrong_shape(saved):
    edit_config(saved, lambda c: c["model"].update(latent_dim=5))
    with pytest.raises(CheckpointError, match="shape") as info:
        checkpoint.load(saved)
    assert str(saved / WEIGHTS_NAME) in str(info.value)


def test_missing_and_unexpected_tensors(saved):
    weights = safetensors.torch.load_file(str(saved / WEIGHTS_NAME))
    weights["extra.weight"] = weights.pop("decoder.0.bias")
    safetensors.torch.save_file(weights, str(saved / WEIGHTS_NAME))
    with pytest.raises(CheckpointError, match="missing decoder.0.bias.*unexpected extra.weight"):
        checkpoint.load(saved)


def test_nan_weights(saved):
    weights = safetensors.torch.load_file(str(saved / WEIGHTS_NAME))
    weights["encoder.0.weight"][0, 0] = float("nan")
    safetensors.torch.save_file(weights, str(saved / WEIGHTS_NAME))
    with pytest.raises(CheckpointError, match="encoder.0.weight contains NaN"):
        checkpoint.load(saved)


def test_truncated_weights(saved):
    raw = (saved / WEIGHTS_NAME).read_bytes()
    (saved / WEIGHTS_NAME).write_bytes(raw[: len(raw) // 2])
    with pytest.raises(CheckpointError, match="damaged") as info:
        checkpoint.load(saved)
    assert str(saved / WEIGHTS_NAME) in str(info.value)


@pytest.mark.parametrize("junk", [b"", b"\x00" * 7, b"garbage" * 100, b"\xff" * 8 + b"{}"])
def test_garbage_weights(junk, saved):
    (saved / WEIGHTS_NAME).write_bytes(junk)
    with pytest.raises(CheckpointError, match="damaged or not a safetensors file"):
        checkpoint.load(saved)
