"""The command line: ``python -m aelab {train,eval,pretrained,info}``."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import torch

from . import __version__, checkpoint, data, distributed, pretrained, regularity
from .errors import AelabError, DataError
from .judge import judge_for
from .labs.completeness import iwae_bound
from .metrics import evaluate
from .models import KINDS, REGISTRY, SHARED_OPTIONS, Option, all_options
from .runs import train_and_save
from .train import EpochLog, TrainConfig, configure_cpu, train_model


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit code (0 ok, 2 for a user-caused error)."""
    args = _parser().parse_args(argv)
    try:
        return args.run(args)
    except AelabError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m aelab", description="Train, evaluate and rebuild autoencoders.")
    parser.add_argument("--version", action="version", version=f"aelab {__version__}")
    sub = parser.add_subparsers(required=True, metavar="COMMAND")
    _train_parser(sub.add_parser("train", help="train a model and save it as a folder"))

    ev = sub.add_parser("eval", help="evaluate a saved model on held-out data")
    ev.add_argument("model_dir", type=Path)
    ev.add_argument("--data", default=None, help="data spec (default: the data the model was trained on)")
    ev.add_argument("--json", action="store_true", help="print one JSON object")
    ev.add_argument("--iwae-k", type=int, default=0, metavar="K",
                    help="for a VAE, also estimate the log-likelihood of each held-out digit by importance "
                         "sampling with K samples (the IWAE bound; 256 takes a few seconds on 500 digits) "
                         "and report neg_iwae, its negative mean in nats, with iwae_k. Default: 0 (off)")
    ev.set_defaults(run=_cmd_eval)

    cmp = sub.add_parser("compare", help="measure two models' continuity and completeness side by side")
    cmp.add_argument("model_dirs", type=Path, nargs=2, metavar="DIR")
    cmp.add_argument("--data", default=None, help="data spec (default: the data the first model was trained on)")
    cmp.add_argument("--pairs", type=int, default=500, help="interpolation paths for continuity (default 500)")
    cmp.add_argument("--samples", type=int, default=2000, help="sampled codes for completeness (default 2000)")
    cmp.add_argument("--json", action="store_true", help="print one JSON object")
    cmp.set_defaults(run=_cmd_compare)

    pre = sub.add_parser("pretrained", help="retrain the shipped models from scratch")
    pre.add_argument("--out", type=Path, default=None, help="folder (default: the shipped pretrained/)")
    pre.add_argument("--only", nargs="*",
                     choices=[r.name for r in pretrained.RECIPES] + [pretrained.JUDGE_DIR, pretrained.FIGURES_DIR,
                                                                 pretrained.LAYOUTS_DIR],
                     help="just these models (or the judge classifier, the compare page's figures, the UMAP layouts)")
    pre.set_defaults(run=_cmd_pretrained)

    info = sub.add_parser("info", help="show a saved model's config")
    info.add_argument("model_dir", type=Path)
    info.set_defaults(run=lambda a: print(json.dumps(checkpoint.load(a.model_dir).info, indent=2)) or 0)
    return parser


def _train_parser(train: argparse.ArgumentParser) -> None:
    """The train command: the model's flags come from the kinds' option declarations."""
    train.add_argument("--model", choices=KINDS, required=True,
                       help="the kind of autoencoder: " + "; ".join(f"{k}: {REGISTRY[k].description}" for k in KINDS))
    for option in all_options().values():
        train.add_argument(option.cli_flag, dest=option.name, default=None,
                           metavar=None if option.choices else option.name.upper(),
                           type=_parser_type(option), choices=option.choices or None, help=_option_help(option))
    defaults = TrainConfig()
    train.add_argument("--epochs", type=int, default=defaults.epochs)
    train.add_argument("--batch-size", type=int, default=defaults.batch_size)
    train.add_argument("--lr", type=float, default=defaults.lr, help="Adam learning rate")
    train.add_argument("--lr-schedule", choices=["cosine", "constant"], default=defaults.lr_schedule)
    train.add_argument("--weight-decay", type=float, default=defaults.weight_decay)
    train.add_argument("--patience", type=int, default=None, help="early stopping after N epochs without improvement")
    train.add_argument("--seed", type=int, default=defaults.seed)
    train.add_argument("--augment-shift", type=int, default=defaults.augment_shift, metavar="PIXELS",
                       help="shift each training image by up to this many whole pixels per axis, drawn afresh "
                            "every batch (1 or 2 for digits; 0 = off, the default)")
    train.add_argument("--augment-rotate", type=float, default=defaults.augment_rotate, metavar="DEGREES",
                       help="rotate each training image by up to this many degrees either way, drawn afresh "
                            "every batch (e.g. 10; 0 = off, the default)")
    train.add_argument("--device", default=defaults.device, help="cpu (default), cuda, or auto")
    train.add_argument("--threads", type=int, default=None,
                       help="CPU threads for torch (default: torch's choice; 1 is fastest on a busy machine)")
    train.add_argument("--data", default="mnist5k", help=data.DATA_SPECS_HELP)
    train.add_argument("--out", type=Path, required=True, help="folder to write the model to")
    train.set_defaults(run=_cmd_train)


def _parser_type(option: Option):
    return {"widths": _widths, int: int, float: float}.get(option.type, str)


def _option_help(option: Option) -> str:
    kinds = [k for k in KINDS if option in REGISTRY[k].options]
    who = "" if option in SHARED_OPTIONS else f"{', '.join(k.upper() for k in kinds)} only. "
    default = ",".join(map(str, option.default)) if option.type == "widths" else option.default
    choices = "; ".join(f"{c}: {option.choice_label(c)}" for c in option.choices) if option.choice_labels else ""
    return f"{who}{option.help}{' (' + choices + ')' if choices else ''} Default: {default}."


def _widths(text: str) -> list[int]:
    try:
        widths = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None
    if widths and min(widths) < 1:  # none at all is a one-layer model: a linear code, one layer each way
        raise argparse.ArgumentTypeError(f"expected positive widths, got {text!r}")
    return widths


def model_settings(args: argparse.Namespace) -> dict[str, Any]:
    """The constructor arguments for ``args.model``; an option meant for another kind is an error."""
    accepted = {option.name for option in REGISTRY[args.model].options}
    settings = {}
    for option in all_options().values():
        value = getattr(args, option.name)
        if value is None:
            continue
        if option.name not in accepted:
            raise AelabError(f"{option.cli_flag} does not apply to a {args.model} model")
        settings[option.name] = value
    return settings


def _cmd_train(args: argparse.Namespace) -> int:
    settings = model_settings(args)
    if args.threads is not None and args.threads < 1:
        raise AelabError(f"--threads must be >= 1, got {args.threads}")
    configure_cpu(args.threads)
    config = TrainConfig(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                         lr_schedule=args.lr_schedule, weight_decay=args.weight_decay,
                         patience=args.patience, seed=args.seed, device=args.device,
                         augment_shift=args.augment_shift, augment_rotate=args.augment_rotate)
    if not distributed.launched():
        return _train_and_report(args, settings, config)
    with distributed.process_group(config.device) as rank:  # torchrun started several processes
        if rank == 0:
            code = _train_and_report(args, settings, config)
        else:  # the others train beside rank 0, which alone checks, saves and prints
            splits = data.load_splits(args.data, seed=config.seed)
            train_model(args.model, settings, splits.train.images, splits.val.images, config)
            code = 0
    distributed.exit_now(code)


def _train_and_report(args: argparse.Namespace, settings: dict[str, Any], config: TrainConfig) -> int:
    bar = _ProgressBar()
    try:
        info = train_and_save(args.model, settings, args.data, config, args.out, callback=bar)
    finally:
        bar.close()  # end the progress line, whether the run was kept or refused
    if info["fit"]["message"]:
        print(f"note: {info['fit']['message']}", file=sys.stderr)
    print(f"saved {args.model} model to {args.out}: {info['description']}")
    _print_metrics(info["metrics"])
    return 0


def _cmd_eval(args: argparse.Namespace) -> int:
    loaded = checkpoint.load(args.model_dir)
    held_out = _held_out_for(loaded, args.data).val
    if args.iwae_k < 0:
        raise AelabError(f"--iwae-k must be a number of samples >= 1 (or 0 for none), got {args.iwae_k}")
    metrics = evaluate(loaded.model, held_out.images)
    if args.iwae_k and loaded.model.has_prior:
        bound = iwae_bound(loaded.model, held_out.images, k=args.iwae_k)
        metrics |= {"neg_iwae": float(-bound.mean()), "iwae_k": args.iwae_k}
    elif args.iwae_k:
        print(f"note: --iwae-k skipped: a {loaded.info['kind']} model has no prior, so no likelihood bound",
              file=sys.stderr)
    if args.json:
        print(json.dumps(metrics))
    else:
        print(f"{loaded.info['kind']} model {args.model_dir} on {held_out.name}:")
        _print_metrics(metrics)
    return 0


def _held_out_for(loaded: checkpoint.Checkpoint, spec: str | None) -> data.Splits:
    """The data a model is evaluated on (its own by default), checked against its image size."""
    spec = spec or loaded.info.get("data", {}).get("spec", "mnist5k")
    splits = data.load_splits(spec, seed=loaded.info.get("training", {}).get("seed", 0))
    if splits.val.image_shape != loaded.model.image_shape:
        (h, w), (dh, dw) = loaded.model.image_shape, splits.val.image_shape
        raise DataError(f"the model {loaded.path} works on {h}x{w} images, but {spec} has {dh}x{dw} images")
    return splits


def _cmd_compare(args: argparse.Namespace) -> int:
    first, second = (checkpoint.load(d) for d in args.model_dirs)
    if first.path.resolve() == second.path.resolve():
        raise AelabError(f"both arguments name the same model ({first.path}); give two different models")
    problem = regularity.comparability_problem(first.model, second.model)
    if problem:
        raise AelabError(f"cannot compare {first.path} and {second.path}: {problem}.")
    if args.pairs < 2 or args.samples < 10:
        raise AelabError("--pairs must be at least 2 and --samples at least 10")
    splits = _held_out_for(first, args.data)
    _held_out_for(second, splits.spec)
    judge = judge_for(splits, pretrained.judge_dir())
    names = [first.name, second.name] if first.name != second.name else [str(first.path), str(second.path)]
    figures = [regularity.measure(loaded.model, splits.train.images, splits.val.images, judge,
                                  pairs=args.pairs, samples=args.samples) for loaded in (first, second)]
    verdict = regularity.compare(*figures, names=tuple(names))
    report = {
        "models": {name: {g: f[g] for g in ("continuity", "completeness")} for name, f in zip(names, figures,
                                                                                             strict=True)},
        "verdict": {key: {"difference": row["difference"], "interval": list(row["interval"]),
                          "more_regular": row["more regular"], "lower_is_better": row["measure"].lower_is_better}
                    for key, row in verdict.items()},
    }
    if args.json:
        print(json.dumps(report))
    else:
        _print_comparison(report, splits.val.name)
    return 0


def _print_comparison(report: dict, data_name: str) -> None:
    names = list(report["models"])
    rows = [(f"{group}.{key}", [report["models"][n][group][key] for n in names])
            for group in ("continuity", "completeness") for key in report["models"][names[0]][group]]
    label = max(len("measure"), *(len(name) for name, _ in rows)) + 2
    cell = max(12, *(len(n) + 2 for n in names))
    print(f"on {data_name} (jump ratio and sensitivity: lower is better; density and coverage: higher is better;"
          " more regular: a 95% bootstrap interval of the difference that excludes 0, else a tie):")
    print(f"  {'measure':<{label}}" + "".join(f"{n:>{cell}}" for n in names) + "  more regular")
    for name, values in rows:
        key = name.split(".")[1]
        who = report["verdict"][key]["more_regular"] if key in report["verdict"] else "-"
        print(f"  {name:<{label}}" + "".join(f"{v:>{cell}.4g}" if isinstance(v, float) else f"{v:>{cell}}"
                                            for v in values) + f"  {who:<12}")


def _cmd_pretrained(args: argparse.Namespace) -> int:
    # One thread: the small MLPs train about as fast on one core, the build does not collapse
    # when another process holds the other core, and the weights do not depend on core count.
    torch.set_num_threads(1)
    out = args.out or pretrained.default_dir()
    out.mkdir(parents=True, exist_ok=True)
    pretrained.build_all(out, args.only)
    print(f"wrote {out / pretrained.INDEX_NAME}")
    return 0


def _print_metrics(metrics: dict[str, float]) -> None:
    for name, value in metrics.items():
        print(f"  {name:>10}: {value:.4f}" if isinstance(value, float) else f"  {name:>10}: {value}")


class _ProgressBar:
    """A one-line terminal progress bar fed by the trainer's per-epoch callback."""

    def __init__(self, width: int = 24) -> None:
        self.width = width
        self.tty = sys.stderr.isatty()
        self.start = time.perf_counter()

    def __call__(self, log: EpochLog) -> None:
        done = int(self.width * log.epoch / log.epochs)
        eta = log.elapsed / log.epoch * (log.epochs - log.epoch)
        terms = " ".join(f"{k} {v:.2f}" for k, v in log.val.items())
        line = (f"epoch {log.epoch:>3}/{log.epochs} [{'#' * done}{'.' * (self.width - done)}] "
                f"val {terms} | {log.images_per_second:,.0f} img/s, {eta:.0f}s left")
        print(f"\r{line}" if self.tty else line, end="" if self.tty else "\n", file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.tty:
            print(file=sys.stderr)
