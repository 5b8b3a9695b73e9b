"""The ``nnzoo`` command: list, train, eval, predict, export, data, experiment, report.

A thin shell over the Python API (:mod:`nnzoo.api`): each command parses its arguments, calls the API and formats
what comes back. Errors in what the user gave (a bad key, a missing file, a wrong row) print one line and exit with
2; a training run whose loss became NaN or infinite exits with 3 after keeping its last good checkpoint. The API's
messages (the ``nnzoo`` logger) are printed on standard output.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from nnzoo import __version__
from nnzoo.errors import TrainingDiverged, UserError
from nnzoo.files import write_atomic

# torch, the API and the task modules are imported inside the commands so that `nnzoo --help` answers at once.

DEVICE_HELP = "auto (CUDA, then MPS, then the CPU), cpu, cuda, cuda:N or mps"
CHECKPOINTS = ("best", "last", "average")  # nnzoo.training.run.CheckpointName, without importing torch
CHECKPOINT_HELP = "best (validation score), last, or average (the mean of the snapshots train.keep_evals kept)"


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "run"):
        parser.print_help()
        return 2
    show_messages(quiet=getattr(args, "quiet", False))
    with data_home(getattr(args, "data_dir", None)):
        return run_command(args)


@contextlib.contextmanager
def data_home(folder: Path | None) -> Iterator[None]:
    """``--data-dir``: the data home (``$NNZOO_DATA``) while the command runs, also for the processes it starts."""
    from nnzoo.data.sources import DATA_HOME_ENV

    if folder is None:
        yield
        return
    before = os.environ.get(DATA_HOME_ENV)
    os.environ[DATA_HOME_ENV] = str(folder.expanduser().resolve())
    try:
        yield
    finally:
        if before is None:
            del os.environ[DATA_HOME_ENV]
        else:
            os.environ[DATA_HOME_ENV] = before


class _Stdout(logging.Handler):
    """Prints each message on the standard output of the moment (a test may have replaced it)."""

    def emit(self, record: logging.LogRecord) -> None:
        print(self.format(record), file=sys.stdout, flush=True)


def show_messages(quiet: bool) -> None:
    """Print the API's messages: all of them, or with ``quiet`` only warnings."""
    logger = logging.getLogger("nnzoo")
    logger.handlers = [h for h in logger.handlers if not isinstance(h, _Stdout)] + [_Stdout()]
    logger.setLevel(logging.WARNING if quiet else logging.INFO)
    logger.propagate = False


def run_command(args: argparse.Namespace) -> int:
    """Run a parsed command: what the user got wrong is one line on stderr and an exit code, not a traceback."""
    # A worker of a multi-process run says which one it is; only rank 0 tells how to resume after Ctrl-C.
    rank = int(os.environ.get("RANK", "0")) if int(os.environ.get("WORLD_SIZE", "1")) > 1 else None
    try:
        import nnzoo.api  # noqa: F401  (every command works on registered tasks: the API registers them)

        return args.run(args) or 0
    except (UserError, TrainingDiverged) as error:
        print(f"nnzoo: error{f' (rank {rank})' if rank else ''}: {error}", file=sys.stderr)
        return error.exit_code
    except OSError as error:  # the machine refused (a full disk, a read-only folder, permissions): not a bug
        print(f"nnzoo: error{f' (rank {rank})' if rank else ''}: {describe_os_error(error)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        if not rank:
            print("\nnnzoo: interrupted; a training run continues with `nnzoo train --resume RUN_DIR`", file=sys.stderr)
        return 130


def describe_os_error(error: OSError) -> str:
    """One line for an operating-system error: what failed, on which file."""
    where = " → ".join(str(name) for name in (error.filename, error.filename2) if name is not None)
    return f"{error.strerror or error}{f': {where}' if where else ''}"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="nnzoo",
        description="Classic deep-learning architectures from their equations, trained on real data.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=_examples(
            "nnzoo list",
            "nnzoo train regression --model mlp --set model.hidden=[32,32] --run-dir runs/boston-mlp",
            "nnzoo eval runs/boston-mlp --split test",
            "nnzoo predict runs/boston-mlp houses.csv",
        ),
    )
    parser.add_argument("--version", action="version", version=f"nnzoo {__version__}")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")

    p = _command(
        commands,
        "list",
        "show the registered tasks, their models and the recipes shipped with nnzoo",
        ["nnzoo list", "nnzoo list --pretrained"],
    )
    p.add_argument(
        "--pretrained", action="store_true", help="list the trained models shipped with nnzoo and their test figures"
    )
    p.set_defaults(run=cmd_list)

    p = _command(
        commands,
        "train",
        "train a model on a task (or resume a run)",
        [
            "nnzoo train regression",
            "nnzoo train --recipe g2p/lstm-attention     # a recipe shipped with nnzoo (`nnzoo list` names them)",
            "nnzoo train regression --recipe regression/mlp --set train.lr=3e-3 --seed 1",
            "nnzoo train --recipe my-recipe.toml",
            "nnzoo train regression --set data.drop='[\"B\"]' --set train.optimizer=sgd",
            "nnzoo train --resume runs/regression/linear-20261123-101500",
            "nnzoo train --init g2p --set train.lr=1e-4 --set train.max_steps=500   # fine-tune a shipped model",
            "nnzoo train regression --model mlp --nproc 2      # two processes, each half of every batch",
            "torchrun --nproc-per-node 4 -m nnzoo.cli train g2p --run-dir runs/g2p/ddp   # or torchrun",
        ],
    )
    p.add_argument("task", nargs="?", help="registered task name (see `nnzoo list`)")
    p.add_argument("--model", help="registered model name for the task (default: the task's default model)")
    p.add_argument(
        "--recipe",
        metavar="RECIPE",
        help="a TOML file with any of the config sections, or a recipe shipped with nnzoo by its name TASK/NAME "
        "(e.g. g2p/lstm-attention; `nnzoo list` names them); an existing file wins",
    )
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override one config field, e.g. train.lr=0.01 or model.hidden=[64,64] (repeatable)",
    )
    p.add_argument("--run-dir", type=Path, help="where to write the run (default: runs/TASK/MODEL-TIMESTAMP)")
    p.add_argument("--resume", type=Path, metavar="RUN_DIR", help="continue a run from its last checkpoint")
    p.add_argument(
        "--init",
        metavar="RUN_DIR|NAME",
        help="start from trained weights (a run folder, or a shipped model: `nnzoo list --pretrained`) instead of "
        "random ones; its task and model unless given (train.init)",
    )
    p.add_argument("--device", help=f"{DEVICE_HELP}; default: the recipe's, else auto")
    p.add_argument("--seed", type=int, help="seed of initialisation, batch order and dropout (default 0)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument(
        "--print-config", action="store_true", help="print the resolved configuration (TOML) and exit, training nothing"
    )
    p.add_argument(
        "--nproc",
        type=int,
        default=1,
        metavar="N",
        help="train in N processes on this machine (data-parallel, each takes train.batch_size / N examples a "
        "step; one per GPU on CUDA); default 1",
    )
    _add_data_dir(p)
    p.set_defaults(run=cmd_train)

    p = _command(
        commands,
        "eval",
        "evaluate trained runs on a split; print a table and write RUN_DIR/eval_SPLIT.json",
        [
            "nnzoo eval runs/regression/linear-20261123-101500",
            "nnzoo eval runs/demo/* --split test --markdown",
            "nnzoo eval runs/g2p/a --set eval.beam_size=10 --set eval.length_penalty=0.6",
            "nnzoo eval runs/g2p/a runs/g2p/b --ensemble --checkpoint average",
        ],
    )
    p.add_argument("run_dirs", nargs="+", type=Path, metavar="RUN_DIR")
    p.add_argument(
        "--ensemble",
        action="store_true",
        help="evaluate the runs as one model, the mean of their predictions (sequence-to-sequence tasks); one row, "
        "no file written",
    )
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="eval.KEY=VALUE",
        help="evaluate with another eval.* setting (repeatable), e.g. eval.beam_size=10",
    )
    p.add_argument("--split", default="test", choices=["train", "val", "test"])
    p.add_argument("--checkpoint", default="best", choices=CHECKPOINTS, help=CHECKPOINT_HELP)
    p.add_argument("--device", default="auto", help=f"{DEVICE_HELP}; default: auto")
    p.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    p.add_argument("--quiet", action="store_true", help="print only the table")
    _add_data_dir(p)
    p.set_defaults(run=cmd_eval)

    p = _command(
        commands,
        "predict",
        "run a trained model on new inputs (the inputs depend on the task: `nnzoo predict RUN_DIR --help`)",
        [
            "nnzoo predict runs/boston-mlp houses.csv",
            "nnzoo predict runs/boston-mlp --row=0.00632,18,2.31,0,0.538,6.575,65.2,4.09,1,296,15.3,396.9,4.98",
        ],
    )
    p.add_argument("--device", default="auto", help=f"{DEVICE_HELP}; default: auto")
    p.add_argument("--checkpoint", default="best", choices=CHECKPOINTS, help=CHECKPOINT_HELP)
    p.add_argument("run_dir", type=Path, metavar="RUN_DIR")
    p.add_argument("inputs", nargs=argparse.REMAINDER, metavar="INPUT", help="task-specific inputs and options")
    _add_data_dir(p)
    p.set_defaults(run=cmd_predict)

    p = _command(
        commands,
        "export",
        "write a trained model as an ONNX file that runs without nnzoo or PyTorch (checked against PyTorch)",
        [
            "nnzoo export runs/boston-mlp --format onnx            # writes runs/boston-mlp/best.onnx",
            "nnzoo export runs/tagging/bilstm --format onnx --checkpoint last --out tagger.onnx",
        ],
    )
    p.add_argument("run_dir", type=Path, metavar="RUN_DIR")
    p.add_argument("--format", default="onnx", choices=["onnx"], help="the file format (default: onnx)")
    p.add_argument(
        "--out", type=Path, metavar="FILE", help="the file to write (default: RUN_DIR/best.onnx or RUN_DIR/last.onnx)"
    )
    p.add_argument("--checkpoint", default="best", choices=CHECKPOINTS, help=CHECKPOINT_HELP)
    p.set_defaults(run=cmd_export)

    p = _command(
        commands,
        "data",
        "show where each data set was found, or which files to put where (nothing is downloaded)",
        [
            "nnzoo data                      # every data set: found where, or what to put where",
            "nnzoo data --check charlm g2p   # exit 1, naming what is missing, unless their data is there",
            "nnzoo data --data-dir ~/datasets --prepare   # read (and cache) every task's data once",
        ],
    )
    p.add_argument("tasks", nargs="*", metavar="TASK", help="only the data of these tasks (default: every data set)")
    p.add_argument("--check", action="store_true", help="exit 1 if data a task reads by default is missing")
    p.add_argument(
        "--prepare",
        action="store_true",
        help="read every task's data once: cache what is derived, fetch Debian's translation catalogs with apt-get "
        "where the data home has none",
    )
    p.add_argument("--quiet", action="store_true", help="print only what is missing")
    _add_data_dir(p)
    p.set_defaults(run=cmd_data)

    p = _command(
        commands,
        "experiment",
        "measure one of the notes' claims (or all); write RUN_DIR/NAME/results.json and figures",
        [
            "nnzoo experiment gradients",
            "nnzoo experiment all --budget small --run-dir runs/experiments",
            "nnzoo experiment memory --budget full --set lengths=[500] --set models=[lstm,gru] --set problems=[adding]",
        ],
    )
    p.add_argument(
        "names",
        nargs="+",
        metavar="NAME",
        help="basics, bottleneck, context, degradation, feedback, gradients, memory, parallel, skips, or all",
    )
    p.add_argument("--budget", default="small", help="tiny (seconds), small (default; minutes) or full")
    p.add_argument(
        "--run-dir",
        "--out-dir",
        dest="run_dir",
        type=Path,
        default=Path("runs/experiments"),
        help="the folder of the experiments' results, one subfolder each (default: runs/experiments)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bars, only the results")
    p.add_argument("--device", default="auto", help=f"{DEVICE_HELP}; default: auto")
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="change one of the budget's settings (repeatable; one experiment only); results.json lists them",
    )
    _add_data_dir(p)
    p.set_defaults(run=cmd_experiment)

    p = _command(
        commands,
        "report",
        "build one self-contained HTML page (figures embedded, no network) from run or experiment folders",
        [
            "nnzoo report runs/g2p/lstm-attention runs/g2p/transformer --out g2p.html",
            "nnzoo report --all runs/          # RUN/report.html for every run, and runs/index.html over them",
        ],
    )
    p.add_argument("run_dirs", nargs="*", type=Path, metavar="RUN_DIR", help="run folders, one section each")
    p.add_argument("--all", type=Path, metavar="DIR", help="every run and experiment folder under DIR, with an index")
    p.add_argument("--out", type=Path, help="the page to write (default: report.html, or DIR/index.html with --all)")
    p.set_defaults(run=cmd_report)

    p = _command(
        commands,
        "app",
        "start a local web playground over the shipped models (pip install 'nnzoo[app]')",
        [
            "nnzoo app                          # http://127.0.0.1:7860/, every shipped model",
            "nnzoo app --models g2p tagging     # the g2p and tagging models only",
            "nnzoo app --run runs/g2p/transformer --port 8000   # your run beside the shipped g2p models",
        ],
    )
    p.add_argument("--host", default="127.0.0.1", help="the address to serve on (default: this machine only)")
    p.add_argument("--port", type=int, default=7860, help="the port (default: 7860)")
    p.add_argument(
        "--models", nargs="+", metavar="NAME", help="shipped models or tasks to show (default: every shipped model)"
    )
    p.add_argument("--run", dest="runs", action="append", default=[], metavar="RUN_DIR", help="a run of yours to add")
    p.add_argument("--device", default="auto", help=f"{DEVICE_HELP}; default: auto")
    p.set_defaults(run=cmd_app)
    _add_completion(parser)
    return parser


def _add_completion(parser: argparse.ArgumentParser) -> None:
    """``nnzoo --print-completion bash|zsh|tcsh`` prints a shell completion script (shtab), e.g.
    ``nnzoo --print-completion bash > ~/.local/share/bash-completion/completions/nnzoo``."""
    try:
        import shtab
    except ImportError:  # an optional convenience: the CLI works without it
        return
    shtab.add_argument_to(parser, "--print-completion", help="print a shell completion script (bash, zsh, tcsh)")


def _add_data_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data-dir",
        type=Path,
        metavar="DIR",
        help="the data home, where data sets you bring are looked for first (default: $NNZOO_DATA, else "
        "~/.cache/nnzoo/data; `nnzoo data` shows what goes where)",
    )


def _command(commands: Any, name: str, help_text: str, examples: list[str]) -> argparse.ArgumentParser:
    return commands.add_parser(
        name,
        help=help_text,
        description=help_text[0].upper() + help_text[1:] + ".",
        epilog=_examples(*examples),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def _examples(*lines: str) -> str:
    return "examples:\n" + "\n".join(f"  {line}" for line in lines)


# --------------------------------------------------------------------------------------------------------------
def cmd_list(args: argparse.Namespace) -> int:
    import nnzoo
    from nnzoo import registry

    if args.pretrained:
        return _list_pretrained()
    print("Tasks, their models (nnzoo train TASK --model MODEL) and recipes (nnzoo train --recipe TASK/NAME):\n")
    names = {task: nnzoo.list_models(task) for task in nnzoo.list_tasks()}
    width = 2 + max(len(name) for task, models in names.items() for name in [task, *models, "recipes:"])
    for task, models in names.items():
        task_cls = registry.get_task(task)
        print(f"{task:<{width + 2}}{registry.describe(task_cls)}")
        for model in sorted(models):
            default = "  [default]" if model == task_cls.default_model else ""
            print(f"  {model:<{width}}{registry.get_model(task, model).description}{default}")
        recipes = nnzoo.list_recipes(task)
        if recipes:
            print(f"  {'recipes:':<{width}}{', '.join(recipes)}")
        print()
    return 0


def _choices(args: argparse.Namespace) -> dict[str, Any]:
    """What ``nnzoo train``'s arguments choose of a new run, as nnzoo.resolve_config and nnzoo.train take it."""
    return {"task": args.task, "model": args.model, "recipe": args.recipe, "overrides": args.set, "seed": args.seed,
            "device": args.device, "init": args.init}  # fmt: skip


def _list_pretrained() -> int:
    from nnzoo import pretrained

    cards = pretrained.cards()
    if not cards:
        print("no pretrained models in this installation")
        return 0
    also = pretrained.aliases(cards)
    rows = []
    for name, card in cards.items():
        size = (card.folder / pretrained.WEIGHTS_FILE).stat().st_size / 1e6
        alias = f" (= {also[name]})" if name in also else ""
        weights = f"{size:.1f} MB {card.fields.get('dtype', '')}"
        rows.append([name + alias, card.fields.get("model", ""), weights, pretrained.figures(card)])
    print("Trained models shipped with nnzoo (nnzoo predict NAME …, nnzoo eval NAME, nnzoo.open(NAME)):\n")
    print(format_table(["name", "model", "weights", "test"], rows, markdown=False))
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    import nnzoo
    from nnzoo.config import to_toml
    from nnzoo.training import distributed, resolve_device

    if args.nproc < 1:
        raise UserError(f"--nproc must be at least 1, got {args.nproc}")
    if args.nproc > 1 and distributed.launched():
        raise UserError("--nproc starts worker processes itself; under torchrun, leave it out")
    if args.print_config:
        if args.resume:
            raise UserError("--print-config shows the configuration of a new run; a run's own is RUN_DIR/config.toml")
        cfg = nnzoo.resolve_config(**_choices(args))
        sys.stdout.write(to_toml(cfg))
        return 0
    if args.nproc > 1:
        from nnzoo.training import default_run_dir
        from nnzoo.training.run import RunDir

        cfg = RunDir(args.resume).load_config() if args.resume else nnzoo.resolve_config(**_choices(args))
        distributed.check_launch(args.nproc, cfg.train.batch_size, resolve_device(args.device or cfg.device))
        # The workers run this command again, as ranks of one process group, into the same folder (a default
        # folder's name has the time in it).
        run_dir = None if args.resume else args.run_dir or default_run_dir(cfg)
        workers = argparse.Namespace(**{**vars(args), "nproc": 1, "run_dir": run_dir})
        return distributed.launch(args.nproc, run_command, workers)

    run = nnzoo.train(**_choices(args), run_dir=args.run_dir, progress=not args.quiet, resume=args.resume)
    if distributed.env_rank() != 0:
        return 0
    state, cfg = run.state, run.config
    minutes = state["elapsed_seconds"] / 60
    best = "none (no finite validation score)" if state["best"] is None else f"{state['best']:.4g}"
    print(f"{state['stop_reason']} in {minutes:.1f} min; best val {cfg.train.monitor} {best} at step "
          f"{state['best_step']}")  # fmt: skip
    print(f"run folder: {run.path}")
    for path in sorted(run.folder.figures.glob("*")):
        print(f"figure: {path}")
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    import nnzoo
    from nnzoo.config import to_dict

    rows: list[tuple[str, dict[str, float]]] = []
    baselines_by_data: dict[tuple[str, str], tuple[str, dict[str, float], str]] = {}
    columns: list[str] = []
    options = {"checkpoint": args.checkpoint, "device": args.device, "overrides": args.overrides}
    if args.ensemble:  # one model of all the runs: one row, and no run folder's files are written
        opened = [(nnzoo.open_ensemble(args.run_dirs, **options), None)]
    else:
        opened = ((nnzoo.open(path, **options), path) for path in args.run_dirs)
    for run, path in opened:
        metrics = run.evaluate(args.split)
        baselines = run.baselines(args.split)
        columns += [c for c in run.task.metric_names if c not in columns]
        if path is None:
            label = "ensemble of " + " + ".join(p.name for p in args.run_dirs) + f" ({run.config.task})"
        elif run.pretrained:  # inside the installed package: nothing is written there
            label = f"pretrained {path} ({run.config.task}/{run.config.model.name})"
        else:
            label = f"{run.path.name} ({run.config.task}/{run.config.model.name})"
            result = {"split": args.split, "checkpoint": args.checkpoint, "metrics": metrics, "baselines": baselines}
            if args.overrides:
                result["overrides"] = args.overrides
            figures = run.figures(args.split)
            out = write_atomic(run.path / f"eval_{args.split}.json", json.dumps(result, indent=1))  # after figures
            if not args.quiet:
                print(f"{path}: wrote {out}", file=sys.stderr)
                for figure in figures:
                    print(f"{path}: figure {figure}", file=sys.stderr)
        rows.append((label, metrics))
        # Runs on the same data share their baselines: show each once.
        data_key = json.dumps({"task": run.config.task, **to_dict(run.config.data)}, sort_keys=True)
        for name, values in baselines.items():
            baselines_by_data.setdefault((data_key, name), (name, values, run.path.name))
    several_data = len({data_key for data_key, _ in baselines_by_data}) > 1
    for name, values, run_name in baselines_by_data.values():
        rows.append((f"baseline: {name}" + (f" (data of {run_name})" if several_data else ""), values))
    table = [[label, *(m.get(c) for c in columns)] for label, m in rows]
    print(format_table([f"{args.split} split", *columns], table, markdown=args.markdown))
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    import nnzoo
    from nnzoo import pretrained
    from nnzoo.cli.predict import predict

    # A task's name alone opens its shipped model for the prediction asked (charlm --poem: the poem model).
    purposes = [arg[2:].partition("=")[0] for arg in args.inputs if arg.startswith("--")]
    path = pretrained.locate(args.run_dir, purposes=purposes)
    run = nnzoo.open(path, device=args.device, checkpoint=args.checkpoint)
    print(predict(run, args.inputs, prog=f"nnzoo predict {args.run_dir}"))
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from nnzoo.export import export_run

    exported = export_run(args.run_dir, args.out, checkpoint=args.checkpoint, format=args.format)
    size = exported.path.stat().st_size / 1024
    print(f"wrote {exported.path} ({exported.task}/{exported.model}, {size:,.0f} KiB)")
    print(f"onnxruntime agrees with PyTorch to {exported.max_abs_diff:.1e} on the example and a second batch")
    for name, note in exported.notes.items():
        print(f"  {name}: {note}")
    return 0


def cmd_data(args: argparse.Namespace) -> int:
    import nnzoo
    from nnzoo import registry
    from nnzoo.data.sources import DATA_SETS, DataMissing, data_home, needed_by
    from nnzoo.optional import MissingDependency

    unknown = sorted(set(args.tasks) - set(nnzoo.list_tasks()))
    if unknown:
        raise UserError(f"unknown task {', '.join(unknown)}; tasks: {', '.join(nnzoo.list_tasks())}")
    data_sets = needed_by(args.tasks) if args.tasks else list(DATA_SETS.values())
    if not args.quiet:
        print(f"data home: {data_home()}  (--data-dir or $NNZOO_DATA; system locations follow)")
    for data in data_sets if not (args.quiet and args.check) else []:  # --check names what is missing below
        found = data.find()
        if not args.quiet or found is None:
            print(f"{data.name} — {data.title}; read by {data.used_by}")
            print(f"  found in {found.folder} ({found.where})" if found else f"  MISSING: {data.advice()}")
    failed = 0
    for name in args.tasks or nnzoo.list_tasks():
        if args.check:
            for data in needed_by([name]):
                if data.find() is None:
                    print(f"nnzoo: error: the {name} task's data is missing: {data.advice()}", file=sys.stderr)
                    failed = 1
        if args.prepare:
            try:
                summary = registry.get_task(name).prepare_data()
            except (DataMissing, MissingDependency) as missing:
                print(f"nnzoo: error: the {name} task's data could not be prepared: {missing}", file=sys.stderr)
                failed = 1
                continue
            if not args.quiet:
                print(f"{name}: {summary}")
    return failed


def cmd_experiment(args: argparse.Namespace) -> int:
    from nnzoo.experiments import EXPERIMENTS, run_experiment
    from nnzoo.training.runtime import resolve_device

    names = sorted(EXPERIMENTS) if args.names == ["all"] else args.names
    if args.overrides and len(names) > 1:
        raise UserError("--set changes the settings of one experiment; name only that one")
    device = resolve_device(args.device)
    for name in names:
        results = run_experiment(name, args.budget, args.run_dir / name, device, args.overrides, not args.quiet)
        print(f"{name} ({results['seconds']:.0f} s, {args.run_dir / name}/results.json)")
        print(f"  claim: {results['claim']}")
        print(f"  measured: {results['answer']}")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from nnzoo.report import build_index, build_report

    if bool(args.all) == bool(args.run_dirs):
        raise UserError("give run folders, or --all DIR, not both (nnzoo report --help)")
    path = build_index(args.all, args.out) if args.all else build_report(args.run_dirs, args.out or "report.html")
    print(f"report: {path}")
    return 0


def cmd_app(args: argparse.Namespace) -> int:
    from nnzoo.app import Playground, serve

    if not 0 < args.port < 65536:
        raise UserError(f"--port must be from 1 to 65535, got {args.port}")
    serve(Playground(args.models, args.runs, device=args.device), host=args.host, port=args.port)
    return 0


# --------------------------------------------------------------------------------------------------------------
def format_table(headers: list[str], rows: list[list[Any]], markdown: bool = False) -> str:
    """Rows of cells as an aligned text table (numbers with 4 significant digits) or as Markdown."""
    cells = [[_cell(v) for v in row] for row in rows]
    if markdown:
        rule = "|" + "|".join("---" if i == 0 else "---:" for i in range(len(headers))) + "|"
        lines = ["| " + " | ".join(headers) + " |", rule]
        lines += ["| " + " | ".join(row) + " |" for row in cells]
        return "\n".join(lines)
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(headers)]

    def line(row: list[str]) -> str:
        return "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths)))

    return "\n".join([line(headers), line(["-" * w for w in widths]), *map(line, cells)])


def _cell(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)
