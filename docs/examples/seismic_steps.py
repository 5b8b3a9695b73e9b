"""The five steps that make one example of task ``seismic`` (docs/images/seismic-steps.png).

    python docs/examples/seismic_steps.py        # about 3 s

Top row: velocity model, Gardner density, acoustic impedance, reflection coefficients in depth and the layer edges.
Bottom row: the coefficients moved to two-way time, the Ricker wavelet and its spectrum, the noise-free section,
and the section with band-limited noise that the network sees.
"""

from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from nnzoo.data import seismic

survey = seismic.Survey()
rng = np.random.default_rng((0, 3))  # example 3 of the training set
velocity = seismic.velocity_model(rng, survey)
frequency = 25.0
fine_dt = survey.dt / seismic.FINE_STEPS
density = seismic.GARDNER_FACTOR * velocity**seismic.GARDNER_EXPONENT
impedance = seismic.impedance(velocity)
reflectivity = seismic.reflection_coefficients(velocity)
in_time = seismic.reflectivity_in_time(velocity, survey.dz, survey.dt, survey.time_samples)
wavelet = seismic.ricker(frequency, fine_dt)
clean = seismic.seismic_section(velocity, np.random.default_rng(1), seismic.Survey(noise=0.0, peak_frequency=(25, 25)))
noisy = seismic.seismic_section(velocity, np.random.default_rng(1), seismic.Survey(peak_frequency=(25, 25)))

depth, width = survey.depth_samples * survey.dz, survey.traces * survey.dx
duration = survey.time_samples * survey.dt
in_depth, in_seconds = (0, width, depth, 0), (0, width, duration, 0)
fig = Figure(figsize=(15, 6.6), layout="constrained")
axes = fig.subplots(2, 5)
panels = [
    (velocity, "1. velocity v (m/s)", "viridis", in_depth),
    (density, "2. density ρ = 0.31 v^0.25 (g/cm³)", "cividis", in_depth),
    (impedance / 1000, "2. impedance Z = ρv (×1000)", "magma", in_depth),
    (reflectivity, "3. r = (Z₂ − Z₁)/(Z₂ + Z₁), in depth", "RdBu_r", in_depth),
    (seismic.layer_edges(velocity), "edges target", "gray_r", in_depth),
    (in_time, "4. r in two-way time", "RdBu_r", in_seconds),
    None,
    (clean, "5. r ∗ Ricker (no noise)", "gray", in_seconds),
    (noisy, "5. + band-limited noise (10 % RMS)", "gray", in_seconds),
]
for ax, panel in zip(axes.flat, panels):
    if panel is None:
        continue
    image, title, cmap, extent = panel
    bound = float(np.abs(image).max())
    signed = cmap in ("RdBu_r", "gray") and image.dtype != bool
    limits = {"vmin": -bound, "vmax": bound} if signed else {}
    shown = ax.imshow(image, cmap=cmap, aspect="auto", extent=extent, interpolation="nearest", **limits)
    ax.set_title(title, fontsize=9)
    if image.dtype != bool:
        fig.colorbar(shown, ax=ax, shrink=0.8)
for ax in axes[0]:
    ax.set_xlabel("distance (m)")
axes[0, 0].set_ylabel("depth (m)")
axes[1, 0].set_ylabel("two-way time (s)")

# Ricker wavelet and its amplitude spectrum, which peaks at the requested frequency.
t = (np.arange(len(wavelet)) - len(wavelet) // 2) * fine_dt * 1000
spectrum = np.abs(np.fft.rfft(wavelet, 4096))
frequencies = np.fft.rfftfreq(4096, fine_dt)
ax = axes[1, 1]
ax.plot(t, wavelet, color="k")
ax.set(xlabel="time (ms)", title=f"Ricker wavelet, {frequency:.0f} Hz")
inset = ax.inset_axes((0.6, 0.6, 0.38, 0.35))
inset.plot(frequencies, spectrum / spectrum.max(), color="C3")
inset.axvline(frequency, color="gray", lw=0.8, ls="--")
inset.set_xlim(0, 100)
inset.set_xlabel("Hz", fontsize=7)
inset.tick_params(labelsize=6)
axes[1, 4].set_visible(False)

out = Path(__file__).resolve().parent.parent / "images" / "seismic-steps.png"
fig.savefig(out, dpi=80)
print(f"wrote {out}; peak of the wavelet's spectrum: {frequencies[spectrum.argmax()]:.1f} Hz")
