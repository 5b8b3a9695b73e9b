"""The task-agnostic trainer: steps, evaluates, checkpoints, logs, stops early and resumes exactly."""

from __future__ import annotations

import logging
import math
import re
import tempfile
import time
import warnings
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch.utils.data import DataLoader
from tqdm import tqdm

from nnzoo.config import to_dict
from nnzoo.errors import CheckpointError, ConfigError, TrainingDiverged
from nnzoo.training import distributed
from nnzoo.training.checkpoint import Checkpoint, capture_rng, save_checkpoint
from nnzoo.training.metrics_log import MetricsLog
from nnzoo.training.optim import build_optimizer, build_scheduler, lr_factor
from nnzoo.training.run import RunDir
from nnzoo.training.runtime import autocast, compute_dtype, seed_everything, to_device
from nnzoo.training.sampler import EpochBatchSampler

if TYPE_CHECKING:
    from nnzoo.tasks.base import Splits, Task

logger = logging.getLogger("nnzoo")


@dataclass
class TrainState:
    """Everything about progress that a resumed run needs besides tensors."""

    step: int = 0
    best: float | None = None  # best value of the monitored validation metric so far
    best_step: int = 0
    bad_evals: int = 0  # evaluations since the last improvement (early stopping)
    finished: bool = False
    stop_reason: str = ""
    elapsed_seconds: float = 0.0  # training wall time so far, summed over resumed sessions
    # Training values since the last log record, so that a resumed run logs the same means as an uninterrupted one.
    window: dict[str, list[float]] = field(default_factory=dict)
    loss_scale: dict[str, Any] = field(default_factory=dict)  # fp16's GradScaler state; empty in other precisions


class Trainer:
    """Trains ``model`` on ``data["train"]`` with the task's loss, evaluating on ``data["val"]``.

    Every evaluation writes ``last.safetensors`` (full state) and, on improvement of ``train.monitor``,
    ``best.safetensors``; ``train.checkpoint_every`` adds saves in between. A run killed at any moment resumes
    with :meth:`fit` ``(resume=True)`` from its last checkpoint and, on the CPU, ends with bitwise the same
    weights as an uninterrupted run: batch order depends only on (seed, epoch), and every RNG state is saved.

    ``callbacks`` are called as ``callback(trainer)`` after every optimiser step. ``identity`` (the run's, see
    :meth:`~nnzoo.training.run.RunDir.identity`) is recorded in every checkpoint.

    Inside a process group (``torchrun``, ``nnzoo train --nproc``; see :mod:`nnzoo.training.distributed`) every rank
    builds a Trainer: each takes a ``train.batch_size / world_size`` shard of every batch, DDP averages the
    gradients, and rank 0 alone evaluates, logs and writes checkpoints. ``model`` stays the bare module.
    """

    def __init__(
        self,
        task: Task,
        model: torch.nn.Module,
        data: Splits,
        run: RunDir,
        *,
        quiet: bool = False,
        callbacks: Iterable[Callable[[Trainer], Any]] = (),
        identity: Mapping[str, str] | None = None,
    ):
        self.task, self.cfg, self.run, self.data = task, task.cfg, run, data
        task.run_dir = run.path  # a task may record things of its own during validation (the GAN's samples)
        self.device = task.device
        self.model = model.to(self.device)
        if task.cfg.train.compile:
            # In place: parameter names, checkpoints and the model's other methods stay the module's own.
            self.model.compile()
        self.quiet = quiet
        self.callbacks = list(callbacks)
        self.identity = identity
        train = self.cfg.train
        if train.monitor not in task.metric_names:
            raise ConfigError(
                f"train.monitor {train.monitor!r} is not a metric of task {task.name!r}; "
                f"its metrics: {', '.join(task.metric_names)}"
            )
        if train.label_smoothing and not task.label_smoothing_applies:
            raise ConfigError(f"train.label_smoothing applies to classification losses; task {task.name!r} has none")
        for split in ("train", "val"):
            if split not in data or len(data[split]) == 0:
                raise ConfigError(f"the {split} split is empty; check the data.* fractions")
        self.world = distributed.current()
        distributed.check_batch_size(train.batch_size, self.world.size)

        self.sampler = EpochBatchSampler(
            len(data["train"]),
            train.batch_size,  # the global batch; each rank takes its shard of it
            shuffle=train.shuffle,
            seed=self.cfg.seed,
            lengths=getattr(data["train"], "lengths", None),  # sequence data: batch similar lengths together
            rank=self.world.rank,
            world_size=self.world.size,
        )
        # The loader gets its own generator: creating an iterator must not draw from the global RNG, or a resumed
        # run (which creates one mid-epoch) would see different dropout masks.
        self.loader = DataLoader(
            data["train"],
            batch_sampler=self.sampler,
            collate_fn=getattr(data["train"], "collate", None),
            generator=torch.Generator().manual_seed(self.cfg.seed),
            pin_memory=self.device.type == "cuda",
        )
        self.steps_per_epoch = len(self.sampler)
        self.total_steps = train.max_steps or train.epochs * self.steps_per_epoch
        self.eval_every = train.eval_every or self.steps_per_epoch
        self.optimizer = build_optimizer(train, self.model.parameters())
        self.scheduler = build_scheduler(train, self.optimizer, self.total_steps)
        # float16 has a narrow range: the loss is scaled up before backward so that small gradients do not
        # underflow, and a step whose gradients overflow is skipped (the scale halves). Off in other precisions.
        fp16 = compute_dtype(self.device, train.precision) == torch.float16
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=fp16)
        self.state = TrainState()
        self.ddp_loss = None  # with several processes: the task's loss under DDP, which averages gradients
        if self.world.size > 1:
            self.ddp_loss = distributed.data_parallel_loss(task, self.model, self.world)
            if not self.world.is_main:
                # Its own dropout masks and noise per rank (rank 0 keeps the single-process stream). The weights
                # are rank 0's whatever the seed: DDP has just copied them.
                seed_everything(distributed.rank_seed(self.cfg.seed, self.world.rank))

    # ------------------------------------------------------------------------------------------------------------
    def fit(self, resume_from: Checkpoint | None = None) -> TrainState:
        """Train until the step budget is spent or early stopping ends it; continue from ``resume_from`` (the run's
        last checkpoint, already checked to be this run's) if given."""
        main = self.world.is_main  # only rank 0 writes to the run folder
        if main:
            self.run.path.mkdir(parents=True, exist_ok=True)
        tensorboard = self.run.path / "tensorboard" if self.cfg.log.tensorboard and main else None
        log = MetricsLog(self.run.metrics if main else None, tensorboard)
        if resume_from is not None:
            self._restore(resume_from)
        log.truncate_after(self.state.step)  # drop what a killed session logged after its checkpoint
        progress = tqdm(
            total=self.total_steps,
            initial=self.state.step,
            disable=self.quiet or not main,
            desc=f"{self.task.name}/{self.cfg.model.name}",
            unit="step",
            dynamic_ncols=True,
        )
        window = self.state.window
        # Each step's loss and gradient norm stay on the device until they are read, all at once, when they are
        # logged or before anything is evaluated or saved: a step never waits for the host (see _read).
        unread: list[tuple[int, dict[str, torch.Tensor]]] = []
        train, every = self.cfg.train, self.cfg.log.every
        postfix: dict[str, str] = {}
        session_start, elapsed_before = time.perf_counter(), self.state.elapsed_seconds
        try:
            while not self.state.finished:
                epoch, start = divmod(self.state.step, self.steps_per_epoch)
                self.sampler.set_epoch(epoch, start)
                for batch in self.loader:
                    unread.append((self.state.step + 1, self._train_step(batch)))
                    self.state.step += 1
                    self.state.elapsed_seconds = elapsed_before + time.perf_counter() - session_start
                    step = self.state.step
                    log_now = step % every == 0 or step == self.total_steps
                    evaluate_now = step % self.eval_every == 0 or step == self.total_steps
                    save_now = not evaluate_now and train.checkpoint_every and step % train.checkpoint_every == 0
                    if log_now or evaluate_now or save_now:
                        self._read(unread, window)
                    if log_now:
                        record = {k: sum(v) / len(v) for k, v in window.items()}
                        log.write(self._record("train", {**record, "lr": self.optimizer.param_groups[0]["lr"]}))
                        postfix["loss"] = f"{record['loss']:.4g}"
                        progress.set_postfix(postfix)
                        window.clear()
                    if evaluate_now:
                        self._evaluate_and_checkpoint(log)
                        if self.state.best is not None:
                            postfix[f"best_val_{train.monitor}"] = f"{self.state.best:.4g}"
                            progress.set_postfix(postfix)
                    elif save_now:
                        self._save_last()
                    progress.update(1)
                    for callback in self.callbacks:
                        callback(self)
                    if self.state.finished:
                        break
        finally:
            progress.close()
            log.close()
        self.world.barrier()  # no rank returns before rank 0 has written the final checkpoint
        return self.state

    def evaluate(self, split: str = "val") -> dict[str, float]:
        return evaluate(self.task, self.model, self.data[split], monitoring=True)

    # ------------------------------------------------------------------------------------------------------------
    def _train_step(self, batch: Any) -> dict[str, torch.Tensor]:
        """One optimiser step; returns the loss (and the task's other loss terms) and the gradient norm before
        clipping, as tensors on the device: reading them here would make the host wait for the GPU every step."""
        self.model.train()
        batch = to_device(batch, self.device)
        with autocast(self.device, self.cfg.train.precision):
            out = self.task.loss(self.model, batch) if self.ddp_loss is None else self.ddp_loss(batch)
        parts = out if isinstance(out, dict) else {"loss": out}
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(parts["loss"]).backward()
        self.scaler.unscale_(self.optimizer)  # the true gradients, for clipping and the logged norm
        max_norm = self.cfg.train.grad_clip or math.inf
        grad_norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), max_norm)
        # fp16: a step whose gradients overflowed is skipped (GradScaler checks, and halves the scale)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        with warnings.catch_warnings():  # a skipped step still counts in the schedule; PyTorch would warn about it
            warnings.filterwarnings("ignore", re.escape("Detected call of `lr_scheduler.step()` before"), UserWarning)
            self.scheduler.step()
        return {**{key: value.detach() for key, value in parts.items()}, "grad_norm": grad_norm.detach()}

    def _read(self, unread: list[tuple[int, dict[str, torch.Tensor]]], window: dict[str, list[float]]) -> None:
        """Read the values of the ``unread`` steps from the device (one wait for the host), check them and add them
        to the log ``window``; empties ``unread``.

        A NaN or infinite loss, or gradient norm without loss scaling, raises :class:`TrainingDiverged` naming the
        first step it occurred in. The check is at most ``log.every`` steps late, and never misses: the trainer
        reads before every evaluation and every checkpoint, so no checkpoint is written after a bad step. The loss
        terms are averaged over the ranks, so every rank stops at the same step."""
        if not unread:
            return
        names = list(unread[0][1])
        losses = [name for name in names if name != "grad_norm"]
        rows = [torch.stack([values[name].to(self.device, torch.float64) for name in names]) for _, values in unread]
        table = torch.stack(rows)
        table[:, : len(losses)] = self.world.mean(table[:, : len(losses)])
        steps = [step for step, _ in unread]
        unread.clear()
        for step, row in zip(steps, table.tolist(), strict=True):
            values = dict(zip(names, row, strict=True))
            if not math.isfinite(values["loss"]):
                raise TrainingDiverged(step, "loss", values["loss"], kept=self.run.last.is_file())
            if not math.isfinite(values["grad_norm"]):
                if not self.scaler.is_enabled():  # with loss scaling it is an overflow, and the step was skipped
                    raise TrainingDiverged(step, "gradient norm", values["grad_norm"], kept=self.run.last.is_file())
                del values["grad_norm"]
            for name, value in values.items():
                window.setdefault(name, []).append(value)

    def _evaluate_and_checkpoint(self, log: MetricsLog) -> None:
        # Rank 0 evaluates alone (a task's metrics need not be means over examples: BLEU, WER); the other ranks
        # wait for its verdict, so that every rank's state says the same about the best score and stopping.
        if self.world.is_main:
            self._judge(log)
        verdict = ("best", "best_step", "bad_evals", "finished", "stop_reason")
        shared = self.world.broadcast({key: getattr(self.state, key) for key in verdict})
        for key, value in shared.items():
            setattr(self.state, key, value)
        self._save_last()

    def _judge(self, log: MetricsLog) -> None:
        """Evaluate on the validation split, log, keep the best checkpoint and decide whether to stop."""
        metrics = self.evaluate("val")
        log.write(self._record("val", {**metrics, "elapsed_s": round(self.state.elapsed_seconds, 1)}))
        if log.wants_images:
            self._log_figures(log)
        train, state = self.cfg.train, self.state
        if train.keep_evals:
            self._keep_snapshot(metrics)
        value = metrics[train.monitor]
        finite = math.isfinite(value)  # NaN compares false with everything: it must never become (or block) best
        if not finite:
            logger.warning("step %d: val %s is %s; not a candidate for the best checkpoint", state.step, train.monitor,
                           value)  # fmt: skip
        better = state.best is None or (value < state.best if train.monitor_mode == "min" else value > state.best)
        improved = finite and better
        if improved:
            state.best, state.best_step, state.bad_evals = value, state.step, 0
            self._save_model(self.run.best, metrics)
        else:
            state.bad_evals += 1
        if train.patience and state.bad_evals >= train.patience:
            state.finished = True
            state.stop_reason = (
                f"early stopping at step {state.step}: "
                f"val {train.monitor} did not improve for {train.patience} evaluations"
            )
        elif state.step >= self.total_steps:
            state.finished = True
            state.stop_reason = f"finished {self.total_steps} steps"

    def _save_model(self, path: Path, metrics: dict[str, float]) -> None:
        """The model alone (no optimizer or random states), with the state and this evaluation's metrics."""
        save_checkpoint(
            path,
            self.model,
            state={**asdict(self.state), "metrics": metrics},
            config=to_dict(self.cfg),
            identity=self.identity,
        )

    def _keep_snapshot(self, metrics: dict[str, float]) -> None:
        """This evaluation's weights as ``snapshots/step-<step>.safetensors``; only the newest ``train.keep_evals``
        stay. A resumed run rewrites the same file with the same weights, so a kill loses nothing here."""
        folder = self.run.snapshots
        self._save_model(folder / f"step-{self.state.step:09d}.safetensors", metrics)
        for old in sorted(folder.glob("step-*.safetensors"))[: -self.cfg.train.keep_evals]:
            old.unlink()

    def _log_figures(self, log: MetricsLog) -> None:
        """The task's validation figures, drawn into a scratch folder and sent to TensorBoard. The random
        generators are restored afterwards: logging images must not change the training run."""
        numpy_state = np.random.get_state()
        with tempfile.TemporaryDirectory() as folder, torch.random.fork_rng(), torch.no_grad():
            self.model.eval()
            log.add_images(self.task.figures(self.model, self.data, "val", Path(folder)), self.state.step)
        np.random.set_state(numpy_state)

    def _save_last(self) -> None:
        # Every rank's random states, so that each rank of a resumed run draws what it would have drawn.
        rng = self.world.gather(capture_rng())
        if not self.world.is_main:
            return
        self.state.loss_scale = self.scaler.state_dict()
        save_checkpoint(
            self.run.last,
            self.model,
            optimizer=self.optimizer,
            scheduler=self.scheduler,
            state=asdict(self.state),
            config=to_dict(self.cfg),
            rng=rng,
            identity=self.identity,
            task_state=self.task.training_state(),
        )

    def _restore(self, checkpoint: Checkpoint) -> None:
        checkpoint.restore_model(self.model)
        try:
            checkpoint.restore_optimizer(self.optimizer)
            checkpoint.restore_scheduler(self.scheduler)
            self.state = TrainState(**checkpoint.state)
            if self.state.loss_scale and self.scaler.is_enabled():
                self.scaler.load_state_dict(self.state.loss_scale)
            restored_rng = checkpoint.restore_rng(self.world.rank)
        except (KeyError, TypeError, ValueError, IndexError) as error:  # metadata that passed the checksum
            raise CheckpointError(f"{checkpoint.path} has training state nnzoo cannot use ({error!r})") from None
        self.task.load_training_state(checkpoint.task_state())
        self._reopen_if_extended()
        if not restored_rng and self.world.rank > 0:
            # Written by fewer processes: this rank starts a fresh stream of its own.
            seed_everything(distributed.rank_seed(self.cfg.seed, self.world.rank, self.state.step))
        # The rate of the next step, from the current configuration (which --resume --set may have changed).
        rate = self.cfg.train.lr * lr_factor(self.cfg.train, self.scheduler.last_epoch, self.total_steps)
        for group in self.optimizer.param_groups:
            group["lr"] = rate

    def _reopen_if_extended(self) -> None:
        """A finished run resumed with a larger step budget (``--set train.max_steps=N``, more epochs) or a
        larger patience trains on."""
        state, patience = self.state, self.cfg.train.patience
        stopped_early = bool(patience) and state.bad_evals >= patience
        if state.finished and state.step < self.total_steps and not stopped_early:
            logger.info("continuing a finished run: step %d of now %d", state.step, self.total_steps)
            state.finished, state.stop_reason = False, ""
        elif state.finished and self.world.is_main:
            logger.warning(
                "%s already finished at step %d (%s); nothing to do", self.run, state.step, state.stop_reason
            )

    def _record(self, split: str, metrics: dict[str, float]) -> dict[str, Any]:
        epoch = round(self.state.step / self.steps_per_epoch, 4)
        return {"step": self.state.step, "epoch": epoch, "split": split, **metrics}


def evaluate(task: Task, model: torch.nn.Module, dataset: Any, monitoring: bool = False) -> dict[str, float]:
    """The task's metrics of ``model`` on ``dataset`` (its cheaper ``validate`` while monitoring training), in eval
    mode, without gradients."""
    model.eval()
    with torch.no_grad(), autocast(task.device, task.cfg.train.precision):
        return task.validate(model, dataset) if monitoring else task.evaluate(model, dataset)
