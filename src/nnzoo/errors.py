"""Errors that reach the user as one clear line instead of a traceback.

The CLI maps each class to its exit code: bad input is 2 (as argparse does), a training run that diverged is 3;
an ``OSError`` (a full disk, a read-only folder) is the machine's refusal, one line with exit code 1. Every other
exception is a bug in nnzoo and keeps its traceback: raise these classes only for what the user can fix.
"""


class UserError(Exception):
    """Something the user gave us is wrong; the message says what and what is accepted."""

    exit_code = 2


class ConfigError(UserError, ValueError):
    """An unknown key, a wrong type, a value out of range or an unknown task/model in a configuration."""


def require(condition: bool, message: str) -> None:
    """Raise :class:`ConfigError` with ``message`` unless ``condition`` holds: the checks of config dataclasses."""
    if not condition:
        raise ConfigError(message)


class CheckpointError(UserError):
    """A checkpoint that is missing, truncated or not written by nnzoo."""


class TrainingDiverged(Exception):
    """The loss or the gradient became NaN or infinite. The trainer notices at its next read of the step values
    (within ``log.every`` steps, and before any evaluation or checkpoint), so the last good checkpoint (if one was
    written) is kept and the message names the first bad step."""

    exit_code = 3

    def __init__(self, step: int, what: str, value: float, kept: bool = True):
        where = (
            "the last good checkpoint was kept"
            if kept
            else "no checkpoint had been written yet, so the run resumes from step 0"
        )
        super().__init__(
            f"the {what} became {value} at step {step}; training stopped and {where} "
            "(try a smaller train.lr or set train.grad_clip)"
        )
        self.step = step
        self.what = what
        self.value = value
