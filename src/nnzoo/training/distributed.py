r"""Data-parallel training in several processes: one model replica per process, gradients averaged every step.

Two ways to start the processes, one code path after that:

* ``nnzoo train … --nproc N`` starts N workers on this machine (:func:`launch`);
* ``torchrun --nproc-per-node N -m nnzoo.cli train …`` starts them itself, on one machine or several.

Either way each worker finds ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR`` and ``MASTER_PORT`` in its
environment, and :func:`setup` joins the process group: gloo on the CPU, NCCL on CUDA with the worker of local rank
``l`` on ``cuda:l``.

With W processes and ``train.batch_size`` B, each step of the :class:`~nnzoo.training.Trainer`:

* splits the global batch that one process would take into W disjoint shards of B/W examples, one per rank
  (:class:`~nnzoo.training.sampler.EpochBatchSampler` with ``rank`` and ``world_size``);
* lets DDP average the ranks' gradients. For a loss that is a mean over examples, the mean of the shards' mean
  gradients is the gradient of the global mean:

  .. math::
      \frac{1}{W} \sum_{r=1}^{W} \nabla \frac{W}{B} \sum_{i \in S_r} \ell_i
      = \nabla \frac{1}{B} \sum_{i=1}^{B} \ell_i

  so the step, and the learning-rate schedule, are those of one process with batch B (up to rounding). A loss
  that is a mean over tokens is, with W processes, the mean of the shards' token means instead;
* logs the training loss as the mean over ranks; rank 0 alone evaluates, writes ``metrics.jsonl``, TensorBoard,
  checkpoints and figures, and the others adopt its verdict (best score, early stop).
"""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import Tensor, nn

from nnzoo.errors import ConfigError, UserError


@dataclass(frozen=True)
class World:
    """This process's place among the training processes; a single process is ``World()``."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0  # rank among the processes of this machine, which picks its GPU
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))  # where collectives' tensors live

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def barrier(self) -> None:
        if self.size > 1:
            dist.barrier(device_ids=[self.device.index]) if self.device.type == "cuda" else dist.barrier()

    def broadcast(self, obj: Any) -> Any:
        """Rank 0's ``obj`` on every rank."""
        if self.size == 1:
            return obj
        box = [obj]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def gather(self, obj: Any) -> list[Any] | None:
        """Every rank's ``obj``, in rank order, on rank 0; ``None`` elsewhere."""
        if self.size == 1:
            return [obj]
        gathered = [None] * self.size if self.is_main else None
        dist.gather_object(obj, gathered, dst=0)
        return gathered

    def mean(self, values: Tensor) -> Tensor:
        """The element-wise mean of ``values`` over the ranks, in float64 (every rank gets the same numbers)."""
        if self.size == 1:
            return values
        total = values.to(self.device, torch.float64, copy=True)
        dist.all_reduce(total)
        return (total / self.size).to(values.device)

    @contextmanager
    def main_first(self) -> Iterator[None]:
        """Rank 0 runs the block before the others, e.g. to fill a data cache that they then only read."""
        if not self.is_main:
            self.barrier()
        yield
        if self.is_main:
            self.barrier()


def launched() -> bool:
    """Whether this process is one of several started by :func:`launch` or torchrun."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def env_rank() -> int:
    """This process's rank from the environment, before (or without) joining a process group."""
    return int(os.environ.get("RANK", "0"))


def current() -> World:
    """The world of the process group this process has joined (``World()`` if none)."""
    if not (dist.is_available() and dist.is_initialized()):
        return World()
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    cuda = dist.get_backend() == "nccl"
    device = torch.device("cuda", torch.cuda.current_device()) if cuda else torch.device("cpu")
    return World(dist.get_rank(), dist.get_world_size(), local_rank, device)


@contextmanager
def setup(device: torch.device) -> Iterator[tuple[World, torch.device]]:
    """Join the process group of a launched worker, and leave it at the end; a single process just runs.

    Yields the world and the device to train on: ``device`` itself, or ``cuda:LOCAL_RANK`` for a CUDA worker.
    """
    if not launched():
        yield World(), device
        return
    world_size, local_rank = int(os.environ["WORLD_SIZE"]), int(os.environ.get("LOCAL_RANK", "0"))
    name = backend(device)
    if device.type == "cuda":
        if local_rank >= torch.cuda.device_count():
            raise UserError(
                f"local rank {local_rank} has no GPU: this machine has {torch.cuda.device_count()}; "
                "start at most that many processes per machine, or train on --device cpu"
            )
        device = torch.device("cuda", local_rank)
        torch.cuda.set_device(device)
    # env:// rendezvous: MASTER_ADDR and MASTER_PORT, set by launch() or torchrun.
    dist.init_process_group(name, rank=env_rank(), world_size=world_size)
    try:
        yield current(), device
    finally:
        dist.destroy_process_group()


def check_batch_size(batch_size: int, world_size: int) -> None:
    """Each of ``world_size`` processes takes ``batch_size / world_size`` examples a step, so that the global batch
    (and with it the learning-rate schedule) stays that of one process; the division must be exact."""
    if batch_size % world_size:
        lower = batch_size - batch_size % world_size
        hint = f"e.g. {lower} or {lower + world_size}" if lower else f"e.g. {world_size}"
        raise ConfigError(
            f"train.batch_size {batch_size} does not split evenly over {world_size} processes: each takes "
            f"batch_size / {world_size} examples per step, so that the global batch stays {batch_size}; "
            f"choose a multiple of {world_size} ({hint})"
        )


def backend(device: torch.device) -> str:
    """The process-group backend for ``device``: NCCL on CUDA, gloo on the CPU; none exchanges MPS tensors."""
    if device.type == "mps":
        raise UserError("multi-process training runs on the CPU (gloo) or on CUDA GPUs (NCCL), not on mps")
    return "nccl" if device.type == "cuda" else "gloo"


def check_launch(nproc: int, batch_size: int, device: torch.device) -> None:
    """What :func:`launch` needs: a batch that splits over ``nproc`` processes, and a GPU for each on CUDA."""
    check_batch_size(batch_size, nproc)
    backend(device)
    if device.type == "cuda" and nproc > torch.cuda.device_count():
        raise UserError(f"--nproc {nproc} on CUDA takes one GPU each; this machine has {torch.cuda.device_count()}")


def rank_seed(seed: int, rank: int, step: int = 0) -> int:
    """The seed of rank ``rank``'s own random stream (dropout masks, noise) from ``step`` on."""
    return (seed * 1_000_003 + rank) * 1_000_003 + step


class _TaskLoss(nn.Module):
    """``task.loss(model, batch)`` as a module. DDP arms its gradient hooks in its own ``forward``; wrapping the
    loss rather than the model lets a task's loss call any method of the model (``encode``, ``scaled``…)."""

    def __init__(self, task: Any, model: nn.Module):
        super().__init__()
        self.model = model
        self.task = task  # not a module: only the model's parameters are synchronised

    def forward(self, batch: Any) -> Any:
        return self.task.loss(self.model, batch)


def data_parallel_loss(task: Any, model: nn.Module, world: World) -> nn.Module:
    """A module whose ``forward(batch)`` is the task's loss, and whose backward averages gradients over ranks.

    DDP copies rank 0's parameters and buffers to every rank here, and rank 0's buffers before every forward.
    ``static_graph=True``: every step of a task uses the same parameters in the same way, so DDP learns from the
    first step which gradients to wait for; parameters that a task's loss never uses (a head it does not train)
    are then allowed, without ``find_unused_parameters``' walk of the autograd graph at every step.
    """
    device_ids = [world.device.index] if world.device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(_TaskLoss(task, model), device_ids=device_ids, static_graph=True)


# --------------------------------------------------------------------------------------------------------------
def launch(nproc: int, target: Callable[..., int], *args: Any) -> int:
    """Run ``target(*args)`` in ``nproc`` new processes on this machine, as ranks 0 … nproc-1; return the exit code
    of the first that failed, or 0.

    torch.multiprocessing rather than torch.distributed.run's elastic agent: there is no agent or rendezvous
    process in between, a worker's exit code and traceback come straight back, a failed worker stops the others
    at once, and the workers die with this process (PR_SET_PDEATHSIG). The price is :func:`free_port`'s small race.
    Multi-machine runs, restarts and elasticity are torchrun's job.
    """
    port = free_port()
    context = mp.start_processes(_worker, args=(nproc, port, target, args), nprocs=nproc, join=False)
    try:
        while not context.join():
            pass
    except mp.ProcessExitedException as failed:  # the others have been terminated by now
        return failed.exit_code if failed.exit_code > 0 else 128 + abs(failed.exit_code)
    except mp.ProcessRaisedException as failed:  # an unexpected exception: its traceback is in the message
        print(failed, file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        # Ctrl-C reached the workers too (one process group); rank 0 says how to resume. A worker that waits for a
        # peer in a collective may never see it, hence the timeout.
        for process in context.processes:
            process.join(timeout=10)
        for process in context.processes:
            if process.is_alive():
                process.terminate()
        return 130
    return 0


def free_port() -> int:
    """A TCP port on the loopback interface that is free now (the kernel's choice for port 0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _worker(local_rank: int, nproc: int, port: int, target: Callable[..., int], args: tuple) -> None:
    """One process started by :func:`launch`: the environment torchrun would give it, then ``target``."""
    os.environ.update(
        RANK=str(local_rank),
        LOCAL_RANK=str(local_rank),
        WORLD_SIZE=str(nproc),
        LOCAL_WORLD_SIZE=str(nproc),
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
    )
    if "OMP_NUM_THREADS" not in os.environ:  # share the cores rather than each worker taking them all
        torch.set_num_threads(max(1, torch.get_num_threads() // nproc))
    code = target(*args)
    if code:
        sys.exit(code)
