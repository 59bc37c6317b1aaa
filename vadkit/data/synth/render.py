"""Render a simulated SynthVAD video: frames, anomaly pixel masks, per-agent boxes.

:func:`render_video` composites the cached sprite templates over the scene background in depth order
(painter's algorithm on the agents' ground y), then applies the camera: a slow global illumination
drift (gain ``1 + A sin(2 pi t / P + phi)`` with a fixed colour tint) and per-frame Gaussian sensor
noise (drawn from a per-video noise bank with random offsets, which keeps it cheap).

Masks are *amodal* silhouettes of the anomalous agents (the whole sprite, even where another agent
is drawn on top of it), clipped to the frame; boxes are the tight boxes of the same clipped
silhouettes, with ``x2``/``y2`` one past the last pixel, so every mask pixel ``(x, y)`` of an agent
satisfies ``x1 <= x < x2`` and ``y1 <= y < y2``. The instance map is *modal*: each pixel holds the id
of the agent a camera sees there (the last one painted), 0 where only the background shows, for every
agent, anomalous or not (a renderer's object-id pass, as UBnormal's maps are).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vadkit.data.synth.simulate import Agent
from vadkit.data.synth.world import (
    Scene,
    bicycle_template,
    car_template,
    person_template,
    scene_background,
)

DEBRIS_COLOURS = np.array([(205, 225, 235), (125, 125, 125), (45, 45, 45)], np.float32)


@dataclass
class Rendered:
    frames: np.ndarray  # [T, H, W, 3] uint8 RGB
    mask: np.ndarray  # [T, H, W] uint8 0/1, anomalous agents only
    ids: np.ndarray  # [T, H, W] uint16 modal agent ids (Agent.aid >= 1), 0 = background
    presence: np.ndarray  # [K, T] bool: event k has anomalous pixels in frame t
    boxes: dict  # aid -> list of (t, x1, y1, x2, y2, anom_event or -1)


def _template(a: Agent, i: int, scale: float):
    """The sprite template of agent ``a`` at script index ``i``."""
    q = a.__dict__.get("_q")
    if q is None:  # per-agent quantised pose parameters as Python ints (cheap per-frame lookups)
        q = ((a.phase * 8).astype(int) % 8).tolist(), np.rint(a.rot).astype(int).tolist(), a.facing.tolist(), \
            a.carry.tolist(), np.rint(a.tilt).astype(int).tolist()
        a.__dict__["_q"] = q
    phase_q, rot_q, facing, carry, tilt = q
    if a.kind == "car":
        return car_template(a.heading[i], scale, tilt[i], a.damage[i])
    if a.kind == "bicycle":
        return bicycle_template(phase_q[i], facing[i], scale)
    pose = a.pose[i]
    return person_template(pose, phase_q[i] if pose in ("walk", "run", "fight") else 0, facing[i], rot_q[i],
                           carry[i], scale)


def render_video(scene: Scene, agents: list[Agent], T: int, n_events: int, rng: np.random.Generator,
                 noise_sigma: float, illum_amp: float) -> Rendered:
    """Render ``T`` frames. Shapes: frames ``[T, H, W, 3]`` uint8, mask ``[T, H, W]`` uint8, ids ``[T, H, W]``
    uint16."""
    H, W = scene.height, scene.width
    bg = scene_background(scene.name, W, H)
    tint_bg = rng.uniform(0.94, 1.06, 3).astype(np.float32)  # per-video weather/white balance
    bg = np.clip(bg * tint_bg, 0, 255)
    frames = np.empty((T, H, W, 3), np.uint8)
    fr = np.empty((H, W, 3), np.float32)  # one working frame: stays in cache
    # camera: slow illumination drift and a bank of sensor-noise fields read at random offsets
    period = rng.uniform(1.0, 3.0) * T
    phi = rng.uniform(0, 2 * np.pi)
    gain = (1.0 + illum_amp * np.sin(2 * np.pi * np.arange(T) / period + phi)).astype(np.float32)
    pad = 8
    bank = rng.normal(0.0, noise_sigma, (8, H + pad, W + pad, 3)).astype(np.float32) + 0.5  # +0.5: round
    js = rng.integers(0, len(bank), T)
    offs = rng.integers(0, pad + 1, (T, 2))
    mask = np.zeros((T, H, W), np.uint8)
    ids = np.zeros((T, H, W), np.uint16)
    presence = np.zeros((max(n_events, 1), T), bool)
    boxes: dict[int, list] = {a.aid: [] for a in agents}
    s = scene.scale
    # Python ints/bools: numpy scalars are slow in this per-frame loop
    pos = {a.aid: (np.floor(a.x + 0.5).astype(int).tolist(), np.floor(a.y + 0.5).astype(int).tolist())
           for a in agents}
    anom = {a.aid: a.anom.tolist() for a in agents}
    ys_f = {a.aid: (a.y - (100 if a.kind == "debris" else 0)).tolist() for a in agents}
    # anchors this far outside cannot put a sprite pixel in the frame (sprites are < 2.5 person heights)
    reach = 45 * s
    near = {a.aid: ((a.x > -reach) & (a.x < W + reach) & (a.y > -reach) & (a.y < H + reach)).tolist()
            for a in agents}
    patches: dict = {}  # (agent id, template id) -> (template, coloured patch [h, w, 3])

    def patch(a, tp):
        key = (a.aid, id(tp))
        hit = patches.get(key)
        if hit is None:  # the template is kept in the value so its id cannot be reused meanwhile
            img = (a.palette[np.where(tp.body, tp.labels, 0)] * tp.shade[..., None]).astype(np.float32)
            hit = (tp, img, img[tp.body_yx])  # full patch [h, w, 3] and silhouette colours [n, 3]
            patches[key] = hit
        return hit

    flat = fr.reshape(-1, 3)

    for t in range(T):
        fr[...] = bg
        items = []
        for a in agents:
            i = t - a.t0
            if 0 <= i < len(a.x) and near[a.aid][i]:
                items.append((ys_f[a.aid][i], a.aid, a, i))
        items.sort(key=lambda it: (it[0], it[1]))
        drawn = []
        for _, _, a, i in items:  # pass 1: shadows under everything
            if a.kind == "debris":
                drawn.append((a, i, None))
                continue
            tp = _template(a, i, s)
            x0 = pos[a.aid][0][i] - tp.ax
            y0 = pos[a.aid][1][i] - tp.ay
            h, w = tp.labels.shape
            cx0, cy0, cx1, cy1 = max(x0, 0), max(y0, 0), min(x0 + w, W), min(y0 + h, H)
            if cx1 <= cx0 or cy1 <= cy0:
                continue
            inside = x0 >= 0 and y0 >= 0 and x0 + w <= W and y0 + h <= H
            if inside:  # fast path: flat pixel indices
                sy, sx = tp.shadow_yx
                sidx = (sy + y0) * W + (sx + x0)
                flat[sidx] *= 0.72
                win = None
            else:
                win = (slice(cy0 - y0, cy1 - y0), slice(cx0 - x0, cx1 - x0))
                sub = fr[cy0:cy1, cx0:cx1]
                np.multiply(sub, 0.72, out=sub, where=tp.shadow[win])
            drawn.append((a, i, (win, cx0, cy0, cx1, cy1, tp, x0, y0)))
        for a, i, geo in drawn:  # pass 2: bodies, back to front
            if a.kind == "debris":
                pts = a.attrs["points"]
                ys, xs, cols = [], [], []
                for dx, dy, c in pts:
                    px, py = int(np.floor(a.x[i] + dx + 0.5)), int(np.floor(a.y[i] + dy + 0.5))
                    if 0 <= px < W and 0 <= py < H:
                        ys.append(py), xs.append(px), cols.append(c)
                if not ys:
                    continue
                ys, xs = np.array(ys), np.array(xs)
                fr[ys, xs] = DEBRIS_COLOURS[np.array(cols)]
                ids[t, ys, xs] = a.aid
                sil_ys, sil_xs = ys, xs
                x1, y1, x2, y2 = xs.min(), ys.min(), xs.max() + 1, ys.max() + 1
            else:
                win, cx0, cy0, cx1, cy1, tp, x0, y0 = geo
                bx1, by1, bx2, by2 = tp.bbox
                _, img, cols = patch(a, tp)
                if win is None:
                    by, bx = tp.body_yx
                    bidx = (by + y0) * W + (bx + x0)
                    flat[bidx] = cols
                    ids[t].reshape(-1)[bidx] = a.aid
                    x1, y1, x2, y2 = x0 + bx1, y0 + by1, x0 + bx2, y0 + by2
                else:
                    body = tp.body[win]
                    yy, xx = np.nonzero(body)
                    if len(yy) == 0:
                        continue
                    x1, y1, x2, y2 = xx.min() + cx0, yy.min() + cy0, xx.max() + 1 + cx0, yy.max() + 1 + cy0
                    np.copyto(fr[cy0:cy1, cx0:cx1], img[win], where=body[..., None])
                    ids[t, cy0:cy1, cx0:cx1][body] = a.aid
            k = anom[a.aid][i]
            boxes[a.aid].append((t, int(x1), int(y1), int(x2), int(y2), k))
            if k >= 0:
                if a.kind == "debris":
                    mask[t, sil_ys, sil_xs] = 1
                elif win is None:
                    mask[t].reshape(-1)[bidx] = 1
                else:
                    mask[t, cy0:cy1, cx0:cx1] |= body
                presence[k, t] = True
        fr *= gain[t]
        dy, dx = offs[t]
        fr += bank[js[t], dy : dy + H, dx : dx + W]
        np.clip(fr, 0, 255, out=fr)
        frames[t] = fr  # float -> uint8 (values already offset by +0.5, so this rounds)
    return Rendered(frames, mask, ids, presence[:n_events], boxes)


def estimate_presence(scene: Scene, agents: list[Agent], T: int, k: int) -> np.ndarray:
    """Cheap ``[T]`` bool: frames where an agent of event ``k`` is anomalous and its silhouette box
    meets the frame (used to place events before the full render, which measures them exactly)."""
    H, W = scene.height, scene.width
    out = np.zeros(T, bool)
    for a in agents:
        for i in np.nonzero(a.anom == k)[0]:
            t = a.t0 + int(i)
            if not 0 <= t < T or out[t]:
                continue
            if a.kind == "debris":
                out[t] = 0 <= a.x[i] < W and 0 <= a.y[i] < H
                continue
            tp = _template(a, int(i), scene.scale)
            x0, y0 = int(round(a.x[i])) - tp.ax, int(round(a.y[i])) - tp.ay
            bx1, by1, bx2, by2 = tp.bbox
            out[t] = x0 + bx2 > 0 and y0 + by2 > 0 and x0 + bx1 < W and y0 + by1 < H
    return out
