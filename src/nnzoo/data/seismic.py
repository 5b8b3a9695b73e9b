r"""Synthetic seismic sections and the velocity models they come from: the data of task ``seismic``.

Every example is made from a seed, in five steps (``docs/unet.md`` shows each one in a figure):

1. **Velocity model** v(z, x) (m/s) on a depth × distance grid: 5 to 12 layers whose velocity grows with depth
   from 1500–2000 m/s at the top to at most 4500 m/s, each step at least 85 m/s. Every model is tilted and most
   are folded (a sine of random wavelength and amplitude) and faulted (a straight fault dipping 60–80° that shifts
   one side by 15–60 m): a pixel's layer is read at its depth moved back to before folding, tilting and faulting.
2. **Density** from Gardner's relation, ρ = 0.31 · v^0.25 (g/cm³, v in m/s), and **acoustic impedance** Z = ρ v.
3. **Reflection coefficients** at each depth step, r = (Z₂ − Z₁) / (Z₂ + Z₁), for a wave going down from Z₁ to Z₂.
4. **Depth → two-way time**: the interface below depth sample k is reached at t = 2 Σ_{j ≤ k} Δz / v_j; each
   coefficient is put at its time on a fine time grid (a quarter of the output sample interval).
5. **Seismic trace** = reflectivity ∗ Ricker wavelet (peak frequency drawn from 20–30 Hz per example) plus
   band-limited noise (white noise filtered by the same wavelet, ``noise`` times the signal's RMS amplitude),
   then every fourth sample is kept. The section is divided by its RMS amplitude.

The time axis covers the two-way time of the slowest possible model (all 1500 m/s), so every model's bottom is
recorded. The **edges** target is the layer boundaries: pixels whose velocity differs from the one below or to
the right. Data sets are cached as ``.npz`` files under ``nnzoo.data.cache_folder() / "seismic"``, named after
their parameters and seed.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from typing import NamedTuple

import numpy as np

from nnzoo.data import cache_folder
from nnzoo.files import replacing
from nnzoo.optional import require

GARDNER_FACTOR, GARDNER_EXPONENT = 0.31, 0.25
FINE_STEPS = 4  # fine time samples per output sample, for placing the reflections


@dataclass(frozen=True)
class Survey:
    """The grid and the physics of a data set."""

    depth_samples: int = 128
    traces: int = 64
    dz: float = 5.0  # m between depth samples
    dx: float = 10.0  # m between traces
    v_min: float = 1500.0  # m/s
    v_max: float = 4500.0
    time_samples: int = 128
    peak_frequency: tuple[float, float] = (20.0, 30.0)  # Hz, drawn per example
    noise: float = 0.1  # RMS of the noise / RMS of the signal

    @property
    def dt(self) -> float:
        """Output sample interval (s): the slowest model's two-way time to the bottom over ``time_samples``."""
        return 2 * self.depth_samples * self.dz / self.v_min / self.time_samples


class SeismicData(NamedTuple):
    seismic: np.ndarray  # (N, time_samples, traces) float32, unit RMS per section
    velocity: np.ndarray  # (N, depth_samples, traces) float32, m/s
    edges: np.ndarray  # (N, depth_samples, traces) bool


# --- the five steps --------------------------------------------------------------------------------------------
def velocity_model(rng: np.random.Generator, survey: Survey = Survey()) -> np.ndarray:
    """A random layered, tilted, usually folded and faulted velocity model (depth_samples, traces) in m/s."""
    nz, nx = survey.depth_samples, survey.traces
    depth_extent = nz * survey.dz
    layers = int(rng.integers(5, 13))
    top = rng.uniform(survey.v_min, survey.v_min + 500)
    steps = rng.uniform(150, 400, layers - 1)
    steps *= min(1.0, (survey.v_max - top) / steps.sum())  # stay below v_max; each step stays >= 85 m/s
    velocities = np.concatenate([[top], top + np.cumsum(steps)])
    # Interfaces at depths spread over the model (and a little beyond, where tilting and folding bring them in).
    interfaces = np.sort(rng.uniform(-0.1, 1.1, layers - 1)) * depth_extent

    z = (np.arange(nz) + 0.5)[:, None] * survey.dz
    x = (np.arange(nx) + 0.5)[None, :] * survey.dx
    width = nx * survey.dx
    original_depth = z - rng.uniform(-0.15, 0.15) * (x - width / 2)  # tilt
    if rng.random() < 0.7:  # fold
        amplitude, wavelength = rng.uniform(10, 60), rng.uniform(0.5, 2.0) * width
        original_depth = original_depth - amplitude * np.sin(2 * np.pi * x / wavelength + rng.uniform(0, 2 * np.pi))
    if rng.random() < 0.5:  # fault: a plane through (x0, z0) dipping at `dip`; the far side moves by `throw`
        x0, z0 = rng.uniform(0.25, 0.75) * width, rng.uniform(0.3, 0.7) * depth_extent
        dip = np.deg2rad(rng.uniform(60, 80)) * rng.choice([-1, 1])
        beyond = (x - x0) * np.sin(dip) - (z - z0) * np.cos(dip) > 0
        original_depth = original_depth + np.where(beyond, rng.uniform(15, 60) * rng.choice([-1, 1]), 0.0)
    return velocities[np.searchsorted(interfaces, original_depth)].astype(np.float32)


def impedance(velocity: np.ndarray) -> np.ndarray:
    """Acoustic impedance Z = ρ v with Gardner's density ρ = 0.31 v^0.25 (g/cm³ · m/s)."""
    velocity = np.asarray(velocity, np.float64)
    return GARDNER_FACTOR * velocity**GARDNER_EXPONENT * velocity


def reflection_coefficients(velocity: np.ndarray) -> np.ndarray:
    """r = (Z₂ − Z₁)/(Z₂ + Z₁) between each depth sample and the next: (depth_samples − 1, …) for (depth_samples, …)."""
    z = impedance(velocity)
    return (z[1:] - z[:-1]) / (z[1:] + z[:-1])


def reflectivity_in_time(velocity: np.ndarray, dz: float, dt: float, samples: int) -> np.ndarray:
    """The reflection coefficients of a velocity model (depth, traces) on a time axis of ``samples`` steps of
    ``dt`` seconds (samples, traces): the interface below depth sample k sits at t = 2 Σ_{j ≤ k} Δz / v_j, rounded
    to the nearest sample; reflections later than the axis are dropped."""
    velocity = np.asarray(velocity, np.float64)
    times = 2 * np.cumsum(dz / velocity, axis=0)[:-1]  # two-way time of each interface (depth − 1, traces)
    index = np.rint(times / dt).astype(np.int64)
    traces = np.broadcast_to(np.arange(velocity.shape[1]), index.shape)
    inside = index < samples
    series = np.zeros((samples, velocity.shape[1]))
    np.add.at(series, (index[inside], traces[inside]), reflection_coefficients(velocity)[inside])
    return series


def ricker(peak_frequency: float, dt: float, length: float = 0.128) -> np.ndarray:
    r"""The Ricker wavelet :math:`w(t) = (1 - 2\pi^2 f^2 t^2)\, e^{-\pi^2 f^2 t^2}`, sampled every ``dt`` s on
    [−length/2, length/2]; its amplitude spectrum peaks at ``peak_frequency`` f."""
    t = np.arange(-(length / 2), length / 2 + dt / 2, dt)
    a = (np.pi * peak_frequency * t) ** 2
    return (1 - 2 * a) * np.exp(-a)


def seismic_section(velocity: np.ndarray, rng: np.random.Generator, survey: Survey = Survey()) -> np.ndarray:
    """The noisy seismic section (time_samples, traces), unit RMS, recorded over a velocity model."""
    fine_dt = survey.dt / FINE_STEPS
    reflectivity = reflectivity_in_time(velocity, survey.dz, fine_dt, survey.time_samples * FINE_STEPS)
    fftconvolve = require("scipy.signal", "the seismic data set").fftconvolve
    wavelet = ricker(rng.uniform(*survey.peak_frequency), fine_dt)[:, None]
    signal = fftconvolve(reflectivity, wavelet, mode="same", axes=0)
    noise = fftconvolve(rng.standard_normal(signal.shape), wavelet, mode="same", axes=0)
    noise *= survey.noise * rms(signal) / max(rms(noise), 1e-12)
    section = (signal + noise)[::FINE_STEPS]
    return (section / max(rms(section), 1e-12)).astype(np.float32)


def layer_edges(velocity: np.ndarray) -> np.ndarray:
    """Boolean map of the layer boundaries: pixels whose velocity differs from the next one down or right."""
    edges = np.zeros(velocity.shape, bool)
    edges[..., :-1, :] |= velocity[..., 1:, :] != velocity[..., :-1, :]
    edges[..., :, :-1] |= velocity[..., :, 1:] != velocity[..., :, :-1]
    return edges


def rms(values: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(values))))


# --- data sets -----------------------------------------------------------------------------------------------
def generate(count: int, seed: int, survey: Survey = Survey()) -> SeismicData:
    """``count`` examples from ``seed`` (example i uses the generator seeded with (seed, i))."""
    seismic, velocity = [], []
    for i in range(count):
        rng = np.random.default_rng((seed, i))
        model = velocity_model(rng, survey)
        velocity.append(model)
        seismic.append(seismic_section(model, rng, survey))
    velocity_array = np.stack(velocity)
    return SeismicData(np.stack(seismic), velocity_array, layer_edges(velocity_array))


def cached(count: int, seed: int, survey: Survey = Survey()) -> SeismicData:
    """:func:`generate`, computed once and then read from the cache (the file name hashes every parameter)."""
    key = json.dumps({"count": count, "seed": seed, **asdict(survey), "version": 1}, sort_keys=True)
    path = cache_folder() / "seismic" / f"{hashlib.sha256(key.encode()).hexdigest()[:16]}.npz"
    if path.is_file():
        with np.load(path) as saved:
            return SeismicData(saved["seismic"], saved["velocity"], saved["edges"])
    data = generate(count, seed, survey)
    with replacing(path) as partial, partial.open("wb") as fh:  # atomic: a killed run leaves no half-written cache
        np.savez(fh, **data._asdict())
    return data
