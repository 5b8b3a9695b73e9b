"""The models behind the playground's tabs, and what each tab asks of them, as plain JSON-ready values.

The playground is a caller of the public API (:func:`nnzoo.open` and :meth:`~nnzoo.api.Run.predict`), like the
command line: every answer here is one a Python program gets from the same calls. The web server
(:mod:`nnzoo.app.server`) only turns requests into these methods' arguments and their results into JSON.

Each method checks what it is given and raises :class:`~nnzoo.errors.UserError` with one line that says what is
wrong and what is accepted: the same messages as the command line, since the tasks raise most of them.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import dataclasses
import io
import tempfile
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

import nnzoo
from nnzoo import pretrained
from nnzoo.api import Run
from nnzoo.config import load_toml
from nnzoo.errors import UserError

# Which task each tab shows; a tab appears when one of its tasks has a model.
TABS: dict[str, tuple[str, ...]] = {
    "pronounce": ("g2p",),
    "translate": ("translate",),
    "write": ("charlm",),
    "tag": ("tagging",),
    "draw": ("classify-images", "gan"),
    "denoise": ("denoise",),
    "segment": ("segment",),
    "forecast": ("forecast",),
}
MAX_TEXT = 300  # characters of any text field; the tasks' own limits (a word's letters) are tighter
MAX_IMAGE_BYTES = 2_000_000  # an uploaded image, decoded
MAX_LENGTH = 1000  # characters the language model writes at once
EXAMPLES = 12  # test images offered by the denoise and segment tabs


@dataclasses.dataclass
class Entry:
    """A model the playground may show: its label (a shipped name or a run folder) and, once asked for, the run."""

    label: str
    task: str
    source: str | Path
    summary: str
    data: dict[str, Any]  # its configuration's [data] table: which corpus, which series
    run: Run | None = None


class Playground:
    """The shipped models (or those named) and a user's run folders, opened on first use, behind one lock: one
    request uses the models at a time, as the command line does, which keeps memory flat under load.

    Args:
        models: shipped model names (``g2p/lstm-attention``) or task names (every shipped model of the task);
            default: every shipped model.
        runs: run folders of the user's own trainings, shown beside the shipped models of their task.
        device: where the models run (``auto``: a GPU when there is one).
    """

    def __init__(self, models: Sequence[str] | None = None, runs: Sequence[str | Path] = (), device: str = "auto"):
        self.device = device
        self.lock = threading.Lock()
        cards = pretrained.cards()
        if models is None:
            chosen = list(cards)
        else:
            chosen = []
            for name in models:
                matching = [n for n in cards if n == name or cards[n].task == name]
                if not matching:
                    raise UserError(f"{name!r} is not a shipped model or a task with one (shipped: {', '.join(cards)})")
                chosen += [n for n in matching if n not in chosen]
        self.entries: dict[str, Entry] = {}
        for name in chosen:
            card = cards[name]
            data = load_toml(card.folder / "config.toml").get("data", {})
            self.entries[name] = Entry(name, card.task, name, card.fields.get("summary", ""), data)
        for folder in runs:
            run = nnzoo.open(folder, device=device)
            label = str(folder)
            data = dataclasses.asdict(run.config.data)
            self.entries[label] = Entry(label, run.config.task, folder, f"your run: {run.config.model.name}", data, run)
        shown = {task for tasks in TABS.values() for task in tasks}
        if not any(entry.task in shown for entry in self.entries.values()):
            raise UserError(f"none of the models given belongs to a tab's task ({', '.join(sorted(shown))})")

    # --- the catalogue -------------------------------------------------------------------------------------------
    def catalog(self) -> dict[str, Any]:
        """The tabs that have models, each with its models' labels and summaries, in the order given."""
        tabs = {}
        for tab, tasks in TABS.items():
            models = [
                {"name": e.label, "task": e.task, "summary": e.summary, "data": e.data}
                for e in self.entries.values()
                if e.task in tasks
            ]
            if models:
                tabs[tab] = models
        return {"version": nnzoo.__version__, "tabs": tabs}

    def models_of(self, task: str) -> list[str]:
        return [e.label for e in self.entries.values() if e.task == task]

    def open(self, label: str, task: str) -> Run:
        """The run shown as ``label``, opened on first use; one clear error for a label of another task."""
        entry = self.entries.get(label) if isinstance(label, str) else None
        if entry is None or entry.task != task:
            shown = ", ".join(self.models_of(task)) or "none"
            raise UserError(f"no {task} model named {label!r} here; the playground's {task} models: {shown}")
        if entry.run is None:
            entry.run = nnzoo.open(entry.source, device=self.device)
        return entry.run

    def _all(self, task: str) -> list[str]:
        labels = self.models_of(task)
        if not labels:
            raise UserError(f"the playground was started without a {task} model")
        return labels

    # --- Pronounce, Translate --------------------------------------------------------------------------------------
    def pronounce(self, text: str, nbest: int = 3) -> dict[str, Any]:
        """The phonemes of each word of ``text`` from every G2P model, the ``nbest`` best with their
        log-probabilities, and the best one's attention map (for the models that attend)."""
        words = _text(text, "text").split()
        if len(words) > 10:
            raise UserError(f"{len(words)} words; give at most 10 at once")
        nbest = _integer(nbest, "nbest", 1, 10)
        labels = self._all("g2p")
        return {"words": [{"word": w, "models": [self._transduce(m, "g2p", w, nbest) for m in labels]} for w in words]}

    def translate(self, model: str, text: str, nbest: int = 1) -> dict[str, Any]:
        """The translation of ``text`` by ``model`` (``nbest`` best), with the best one's attention map."""
        return self._transduce(model, "translate", _text(text, "text"), _integer(nbest, "nbest", 1, 5))

    def _transduce(self, label: str, task: str, text: str, nbest: int) -> dict[str, Any]:
        run = self.open(label, task)
        [outputs] = run.predict([text], nbest=nbest)
        attention = run.task.attention(run.model, text, outputs[0])
        return {
            "name": label,
            "outputs": [{"text": o.text, "log_prob": round(o.log_prob, 3)} for o in outputs],
            "attention": None
            if attention is None
            else {
                "inputs": attention.inputs,
                "outputs": attention.outputs,
                "weights": attention.weights.double().numpy().round(3).tolist(),
            },
        }

    # --- Write -----------------------------------------------------------------------------------------------------
    def write(
        self,
        model: str,
        prompt: str = "",
        length: int = 300,
        temperature: float = 0.8,
        top_k: int = 0,
        seed: int = 0,
        poem: str = "",
        acrostic: str = "",
    ) -> dict[str, Any]:
        """A continuation of ``prompt`` by a character language model, or a poem (``poem`` "5x4", "7x4", "5x8",
        "7x8"; ``acrostic``: the first character of each line)."""
        run = self.open(model, "charlm")
        prompt = _text(prompt, "prompt", allow_empty=True)
        options = {
            "length": _integer(length, "length", 1, MAX_LENGTH),
            "temperature": _number(temperature, "temperature", 0, 5),
            "top_k": _integer(top_k, "top_k", 0, 10_000),
            "seed": _integer(seed, "seed", 0, 2**31 - 1),
            "poem": _text(poem, "poem", allow_empty=True),
            "acrostic": _text(acrostic, "acrostic", allow_empty=True),
        }
        if not prompt and not options["poem"]:
            raise UserError("give a prompt to continue, or a poem form")
        [text] = run.predict([prompt], **options)
        return {"name": model, "text": text}

    # --- Tag ------------------------------------------------------------------------------------------------------
    def tag(self, sentence: str, corpus: str = "") -> dict[str, Any]:
        """A tag for every word of ``sentence`` from every tagging model trained on ``corpus`` (default: every
        tagging model), side by side: the context-free MLP's beside the BiLSTM's shows what the context decides."""
        sentence = _text(sentence, "sentence")
        labels = [label for label in self._all("tagging") if corpus in ("", self.entries[label].data.get("corpus"))]
        if not labels:
            corpora = sorted({self.entries[label].data.get("corpus", "") for label in self._all("tagging")})
            raise UserError(f"no tagging model here was trained on {corpus!r}; the corpora here: {', '.join(corpora)}")
        columns = []
        for label in labels:
            run = self.open(label, "tagging")
            try:
                [words] = run.predict([sentence])
            except UserError as error:  # one model refusing a sentence leaves the others' answers
                columns.append({"name": label, "error": str(error)})
                continue
            tagged = [{"word": w.word, "tag": w.tag, "known": w.known} for w in words]
            columns.append({"name": label, "summary": self.entries[label].summary, "words": tagged})
        return {"models": columns}

    # --- Draw -----------------------------------------------------------------------------------------------------
    def classify(self, model: str, pixels: Any) -> dict[str, Any]:
        """The class probabilities of a drawing: ``pixels``, rows of grey levels in [0, 1] at the model's size
        (a bright object on black, as the training images are)."""
        run = self.open(model, "classify-images")
        image = _pixels(pixels, tuple(run.task.info["image_shape"][1:]))
        [result] = run.predict([image])
        ranked = sorted(result.probabilities.items(), key=lambda item: -item[1])
        return {"name": model, "label": result.label, "probabilities": [[c, round(p, 4)] for c, p in ranked]}

    def latent_walk(self, model: str, seed: int = 0, steps: int = 8) -> dict[str, Any]:
        """The generator's images along the great circle between two random latent points (slerp)."""
        from nnzoo.nn.gan import slerp

        run = self.open(model, "gan")
        seed, steps = _integer(seed, "seed", 0, 2**31 - 1), _integer(steps, "steps", 2, 16)
        ends = torch.randn(2, run.model.latent_dim, generator=torch.Generator().manual_seed(seed))
        images = run.predict(list(slerp(ends[0], ends[1], steps)))
        return {"name": model, "images": [_png(image[0]) for image in images]}

    # --- Denoise, Segment -----------------------------------------------------------------------------------------
    def examples(self, model: str, task: str) -> dict[str, Any]:
        """The first test images a denoise or segment model can be tried on (the noisy copies for denoise)."""
        inputs, _ = self._test_examples(self.open(model, _image_task(task)))
        return {"name": model, "images": [_png(image[0]) for image in inputs]}

    def denoise(self, model: str, example: int | None = None, image: str | None = None) -> dict[str, Any]:
        """The clean image the U-Net makes of a noisy test image (``example``) or of an uploaded one (``image``, a
        data URL), with the test image's clean original beside it."""
        run = self.open(model, "denoise")
        with self._image_or_example(run, example, image) as (given, truth):
            [output] = run.predict([given])
        answer = {"name": model, "output": _png(output[0])}
        if truth is not None:
            answer |= {"input": _png(given[0]), "truth": _png(truth[0])}
        return answer

    def segment(self, model: str, example: int | None = None, image: str | None = None) -> dict[str, Any]:
        """The U-Net's class of every pixel of a test scene (``example``) or an uploaded image (``image``, a data
        URL), coloured by class, with the test scene's true map beside it."""
        run = self.open(model, "segment")
        with self._image_or_example(run, example, image) as (given, truth):
            [classes] = run.predict([given])
        names = run.task.info["classes"]
        answer = {
            "name": model,
            "output": _png_classes(classes, len(names)),
            "classes": [[name, _colour_hex(i)] for i, name in enumerate(names)],
        }
        if truth is not None:
            answer |= {"input": _png(given[0]), "truth": _png_classes(truth, len(names))}
        return answer

    def _test_examples(self, run: Run) -> tuple[torch.Tensor, torch.Tensor]:
        """The first test images a denoise or segment model offers, and their truths: noisy copies and their clean
        originals, or scenes and their class maps."""
        test = run.data["test"]
        if run.config.task == "denoise":
            return test.noisy[:EXAMPLES], test.clean[:EXAMPLES]
        return test.images[:EXAMPLES], test.masks[:EXAMPLES]

    @contextlib.contextmanager
    def _image_or_example(
        self, run: Run, example: int | None, image: str | None
    ) -> Iterator[tuple[Any, torch.Tensor | None]]:
        """What to give ``predict`` (a test image, or the path of the uploaded file, kept while the block runs)
        and the test image's truth (None for an upload)."""
        if (example is None) == (image is None):
            raise UserError("give a test image's number (example) or an uploaded image (image), one of the two")
        if example is not None:
            index = _integer(example, "example", 0, EXAMPLES - 1)
            inputs, truths = self._test_examples(run)
            yield inputs[index], truths[index]
            return
        content = _decoded(image)
        with tempfile.TemporaryDirectory(prefix="nnzoo-app-") as folder:
            path = Path(folder) / "upload"
            path.write_bytes(content)  # the task reads it as it reads any image file given to predict
            try:
                yield path, None
            except UserError as error:  # the task's message, about the upload rather than a temporary file
                raise UserError(str(error).replace(str(path), "the uploaded file")) from None

    # --- Forecast -------------------------------------------------------------------------------------------------
    def forecast(self, model: str, horizon: int = 0) -> dict[str, Any]:
        """The model's forecast from the start of its series' test part, ``horizon`` steps (default: the trained
        horizon; beyond it the forecasts are fed back), beside the ARIMA baseline's and what happened."""
        from nnzoo.tasks.forecast import arima_forecasts, arima_name

        run = self.open(model, "forecast")
        info = run.task.info
        horizon = _integer(horizon or info["horizon"], "horizon", 1, 4 * info["horizon"])
        run.data  # noqa: B018 - reads the series and fits nothing: ARIMA is fitted below, once, and cached
        values, origin = run.task.series.values, info["val_end"]
        history = values[max(0, origin - 3 * info["window"]) : origin]
        [predicted] = run.predict([values[:origin]], steps=horizon)
        settings = run.task.settings()
        arima = arima_forecasts(run.task.fitted_arima, values, np.array([origin]), horizon)[0]
        return {
            "name": model,
            "series": info["series"],
            "unit": info["unit"],
            "history": history.tolist(),
            "actual": values[origin : origin + horizon].tolist(),
            "forecast": predicted,
            "baseline": arima.tolist(),
            "baseline_name": arima_name(settings["arima"], settings["seasonal"], info["period"]),
        }


# --- checking what a request gives ---------------------------------------------------------------------------------
def _text(value: Any, name: str, allow_empty: bool = False) -> str:
    if not isinstance(value, str):
        raise UserError(f"{name} must be text, got {type(value).__name__}")
    value = value.strip()
    if not value and not allow_empty:
        raise UserError(f"{name} is empty; type something")
    if len(value) > MAX_TEXT:
        raise UserError(f"{name} has {len(value)} characters; at most {MAX_TEXT} are accepted")
    return value


def _integer(value: Any, name: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or int(value) != value:
        raise UserError(f"{name} must be a whole number from {low} to {high}, got {value!r}")
    if not low <= value <= high:
        raise UserError(f"{name} must be from {low} to {high}, got {int(value)}")
    return int(value)


def _number(value: Any, name: str, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        raise UserError(f"{name} must be a number from {low} to {high}, got {value!r}")
    return float(value)


def _pixels(rows: Any, size: tuple[int, int]) -> np.ndarray:
    try:
        image = np.asarray(rows, dtype=np.float32)
    except (TypeError, ValueError):
        raise UserError(f"pixels must be {size[0]} rows of {size[1]} numbers in [0, 1]") from None
    if image.shape != size or not np.isfinite(image).all() or image.min() < 0 or image.max() > 1:
        raise UserError(f"pixels must be {size[0]} rows of {size[1]} numbers in [0, 1], got shape {image.shape}")
    return image


def _image_task(task: Any) -> str:
    if task not in ("denoise", "segment"):
        raise UserError(f"examples are offered for denoise and segment, not {task!r}")
    return task


def _decoded(data_url: Any) -> bytes:
    """The bytes of an uploaded image, sent as a data URL (or bare base64)."""
    if not isinstance(data_url, str):
        raise UserError("image must be a data URL (data:image/png;base64,...)")
    encoded = data_url.partition(",")[2] if data_url.startswith("data:") else data_url
    if len(encoded) > MAX_IMAGE_BYTES * 4 // 3 + 4:
        raise UserError(f"the image is larger than {MAX_IMAGE_BYTES // 1_000_000} MB; give a smaller one")
    try:
        return base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise UserError("image is not valid base64; send the file as a data URL") from None


def _png(image: torch.Tensor) -> str:
    """A grey image (H, W) in [0, 1] as a PNG data URL."""
    from PIL import Image

    pixels = (image.detach().float().clamp(0, 1) * 255).round().to(torch.uint8).cpu().numpy()
    return _data_url(Image.fromarray(pixels, mode="L"))


def _colour(index: int) -> tuple[int, int, int]:
    """Class ``index``'s colour as the figures draw it (:func:`~nnzoo.viz.images.class_colour`), in 0–255; the
    background (0) is black."""
    from nnzoo.viz.images import class_colour

    return (0, 0, 0) if index == 0 else tuple(round(255 * value) for value in class_colour(index))


def _colour_hex(index: int) -> str:
    return "#{:02x}{:02x}{:02x}".format(*_colour(index))


def _png_classes(classes: torch.Tensor, count: int) -> str:
    """A class map (H, W) of indices as a PNG data URL, one colour per class."""
    from PIL import Image

    palette = np.array([_colour(i) for i in range(count)], dtype=np.uint8)
    return _data_url(Image.fromarray(palette[classes.cpu().numpy()], mode="RGB"))


def _data_url(image: Any) -> str:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
