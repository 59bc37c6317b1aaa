"""SynthVAD simulation: agents follow scripted behaviours; events inject the anomalies.

An agent is a *script*: a sequence of motion chunks (``n`` frames at velocity ``(vx, vy)`` with a
pose, an activity word and an anomaly flag) starting at frame ``t0`` (negative = already on its way
when the video starts). Scripts are turned into per-frame arrays with cumulative sums, so a whole
video is simulated without a per-frame Python loop over agents.

Normal behaviour (the only thing normal videos contain):

* people walk along the scene's routes (walkways) at 0.55-0.9 px/frame (x scale), both directions;
* people sit on the bench;
* look-alikes of the anomalies' single-frame signatures (generator 2.0, ``SynthConfig.bend_prob``,
  ``together_prob``, ``parked_prob``, ``bag_prob``): walkers who stop for 1-2 s and bend down (``bend``),
  pairs of walkers side by side at one speed (``walk_together``), cars parked in the parking bays for the
  whole video (``park``), walkers carrying a bag;
* cars drive in their lane, in the lane's direction, 2.2-3.4 px/frame; every car of a lane shares
  the lane's speed, so cars never run into each other;
* bicycles ride on the bike lane in its direction at 1.3-1.9 px/frame.

Anomalies (``ANOMALY_TYPES``) are built by :data:`EVENT_BUILDERS`; each marks the frames in which its
agents behave anomalously (``anom`` = event index) and reserves the lanes/routes it uses so normal
traffic does not run through it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from vadkit.data.synth.world import (
    Scene,
    bicycle_palette,
    car_palette,
    person_palette,
)

NORMAL_WALK = (0.55, 0.9)
RUN_SPEED = (2.1, 2.9)
CAR_SPEED = (2.2, 3.4)
BIKE_SPEED = (1.3, 1.9)
STRIDE = 5.0  # px of travel per walk cycle at scale 1


@dataclass
class Chunk:
    n: int
    vx: float
    vy: float
    pose: str
    act: str
    anom: int = -1
    heading: str = "E"
    facing: int = 1
    rot: tuple[float, float] = (0.0, 0.0)  # fall angle (quantised steps) at start and end of chunk
    carry: bool = False
    jitter: float = 0.0
    tilt: tuple[float, float] = (0.0, 0.0)  # a collided car's askew angle (degrees) at start and end of chunk
    damage: str = ""  # a collided car's crushed end: "front", "rear" or "" (intact)
    phase_rate: float | None = None


@dataclass
class Agent:
    """One road user. Per-frame arrays cover script frames ``t0 .. t0 + n - 1``."""

    aid: int
    kind: str  # person / car / bicycle / debris
    palette: np.ndarray
    attrs: dict
    t0: int
    x0: float
    y0: float
    chunks: list[Chunk] = field(default_factory=list)
    # filled by compile():
    x: np.ndarray | None = None
    y: np.ndarray | None = None
    phase: np.ndarray | None = None
    rot: np.ndarray | None = None
    pose: list | None = None
    act: list | None = None
    anom: np.ndarray | None = None
    heading: list | None = None
    facing: np.ndarray | None = None
    carry: np.ndarray | None = None
    tilt: np.ndarray | None = None
    damage: list | None = None
    role: str = ""  # text role in an event ("runner", "thief", "victim", ...)

    def add(self, n, vx=0.0, vy=0.0, pose="walk", act="walk", **kw) -> "Agent":
        n = int(round(n))
        if n > 0:
            self.chunks.append(Chunk(n, float(vx), float(vy), pose, act, **kw))
        return self

    @property
    def n(self) -> int:
        return sum(c.n for c in self.chunks)

    def end_xy(self) -> tuple[float, float]:
        x = self.x0 + sum(c.n * c.vx for c in self.chunks)
        y = self.y0 + sum(c.n * c.vy for c in self.chunks)
        return x, y

    def compile(self, rng: np.random.Generator, scale: float) -> None:
        vx = np.concatenate([np.full(c.n, c.vx) for c in self.chunks])
        vy = np.concatenate([np.full(c.n, c.vy) for c in self.chunks])
        # position at frame i is the start plus the motion of frames 0..i-1
        self.x = self.x0 + np.concatenate([[0.0], np.cumsum(vx)[:-1]])
        self.y = self.y0 + np.concatenate([[0.0], np.cumsum(vy)[:-1]])
        jit = np.concatenate([np.full(c.n, c.jitter) for c in self.chunks])
        if np.any(jit > 0):  # fighting: jittery close contact
            self.x = self.x + jit * rng.uniform(-1, 1, len(jit))
            self.y = self.y + 0.5 * jit * rng.uniform(-1, 1, len(jit))
        rates = []
        for c in self.chunks:
            if c.phase_rate is not None:
                r = c.phase_rate
            else:
                r = math.hypot(c.vx, c.vy) / (STRIDE * scale * (1.6 if c.pose == "run" else 1.0))
            rates.append(np.full(c.n, r))
        self.phase = (rng.uniform() + np.cumsum(np.concatenate(rates))) % 1.0
        self.rot = np.concatenate([np.linspace(c.rot[0], c.rot[1], c.n) for c in self.chunks])
        self.pose = [c.pose for c in self.chunks for _ in range(c.n)]
        self.act = [c.act for c in self.chunks for _ in range(c.n)]
        self.heading = [c.heading for c in self.chunks for _ in range(c.n)]
        self.facing = np.concatenate([np.full(c.n, c.facing, np.int8) for c in self.chunks])
        self.carry = np.concatenate([np.full(c.n, c.carry) for c in self.chunks])
        self.tilt = np.concatenate([np.linspace(c.tilt[0], c.tilt[1], c.n) for c in self.chunks])
        self.damage = [c.damage for c in self.chunks for _ in range(c.n)]
        self.anom = np.concatenate([np.full(c.n, c.anom, np.int16) for c in self.chunks])

    def at(self, t: int) -> int | None:
        """Script index of video frame ``t`` or ``None``."""
        i = t - self.t0
        return i if 0 <= i < len(self.x) else None


# ----------------------------------------------------------------------------------------------
# helpers
# ----------------------------------------------------------------------------------------------
def _heading(vx: float, vy: float, default: str = "E") -> str:
    if abs(vx) < 1e-9 and abs(vy) < 1e-9:
        return default
    if abs(vx) >= abs(vy):
        return "E" if vx > 0 else "W"
    return "S" if vy > 0 else "N"


def _facing(vx: float, default: int = 1) -> int:
    return default if abs(vx) < 1e-9 else (1 if vx > 0 else -1)


def polyline_length(pts) -> float:
    return float(sum(math.hypot(b[0] - a[0], b[1] - a[1]) for a, b in zip(pts[:-1], pts[1:])))


def point_at(pts, s: float) -> tuple[float, float, int]:
    """Point at arc length ``s`` along ``pts`` and the index of its leg."""
    for k, (a, b) in enumerate(zip(pts[:-1], pts[1:])):
        L = math.hypot(b[0] - a[0], b[1] - a[1])
        if s <= L or k == len(pts) - 2:
            u = min(max(s / L, 0.0), 1.0) if L > 0 else 0.0
            return a[0] + u * (b[0] - a[0]), a[1] + u * (b[1] - a[1]), k
        s -= L
    raise AssertionError


def extend_route(pts, extra: float):
    """``pts`` with both end legs lengthened by ``extra`` px (so long vehicles fully leave the frame)."""
    pts = [tuple(p) for p in pts]

    def ext(a, b):
        L = math.hypot(b[0] - a[0], b[1] - a[1])
        return (b[0] + (b[0] - a[0]) / L * extra, b[1] + (b[1] - a[1]) / L * extra)

    return [ext(pts[1], pts[0])] + pts[1:-1] + [ext(pts[-2], pts[-1])]


def walk_polyline(agent: Agent, pts, s0: float, s1: float, speed: float, **kw) -> Agent:
    """Append chunks moving ``agent`` along ``pts`` from arc length ``s0`` to ``s1`` at ``speed``."""
    pos = 0.0
    facing = kw.pop("facing", None)
    for a, b in zip(pts[:-1], pts[1:]):
        L = math.hypot(b[0] - a[0], b[1] - a[1])
        lo, hi = max(s0, pos), min(s1, pos + L)
        if hi > lo and L > 0:
            ux, uy = (b[0] - a[0]) / L, (b[1] - a[1]) / L
            n = (hi - lo) / speed
            f = _facing(ux, facing if facing is not None else 1)
            agent.add(max(1, round(n)), ux * speed, uy * speed, heading=_heading(ux, uy), facing=f, **kw)
        pos += L
    return agent


def last_facing(agent: Agent) -> int:
    return agent.chunks[-1].facing if agent.chunks else 1


@dataclass
class Ctx:
    scene: Scene
    rng: np.random.Generator
    T: int
    fps: float = 15.0
    next_id: int = 1
    reserved: list = field(default_factory=list)  # (resource, t_from, t_to)

    @property
    def s(self) -> float:
        return self.scene.scale

    def new(self, kind: str, t0: int, x0: float, y0: float, **attrs) -> Agent:
        if kind == "person":
            pal, names = person_palette(self.rng)
        elif kind == "car":
            pal, names = car_palette(self.rng)
        elif kind == "bicycle":
            pal, names = bicycle_palette(self.rng)
        else:
            pal, names = np.zeros((16, 3), np.float32), {}
        names.update(attrs)
        a = Agent(self.next_id, kind, pal, names, int(t0), float(x0), float(y0))
        self.next_id += 1
        return a

    def dur(self, lo: int, hi: int) -> int:
        """A duration in ``[lo, hi)`` frames, shortened for videos under 200 frames so events fit."""
        f = min(1.0, self.T / 200.0)
        return max(int(self.rng.integers(lo, hi) * f), 6)

    def reserve(self, resource, t_from, t_to) -> None:
        self.reserved.append((resource, float(t_from), float(t_to)))

    def is_free(self, resources, t_from, t_to) -> bool:
        return not any(r in resources and a < t_to and t_from < b for r, a, b in self.reserved)


def route_resources(scene: Scene, route) -> set:
    """Walkways a route touches (for reservations)."""
    res = set()
    for w in scene.walkways:
        x0, y0, x1, y1 = w.rect
        # sample the polyline
        L = polyline_length(route)
        for s in np.linspace(0, L, 40):
            px, py, _ = point_at(route, s)
            if x0 - 2 <= px <= x1 + 2 and y0 - 2 <= py <= y1 + 2:
                res.add(("walkway", w.name))
                break
    return res


def road_lanes(scene: Scene):
    return [l for l in scene.lanes if l.kind == "road"]


def bike_lane(scene: Scene):
    return [l for l in scene.lanes if l.kind == "bike"][0]


# ----------------------------------------------------------------------------------------------
# normal population
# ----------------------------------------------------------------------------------------------
def _visible_span(scene: Scene, route, margin: float) -> tuple[float, float]:
    """Arc-length range of ``route`` whose points lie at least ``margin`` px inside the frame (coarse)."""
    L = polyline_length(route)
    ok = [t for t in np.linspace(0, L, 60)
          if margin <= point_at(route, t)[0] <= scene.width - margin
          and margin <= point_at(route, t)[1] <= scene.height - margin]
    return (min(ok), max(ok)) if ok else (0.0, L)


def populate_normal(ctx: Ctx, lane_speeds: dict, density: tuple[float, float, float], *, bend_prob: float = 0.0,
                    together_prob: float = 0.0, parked_prob: float = 0.0, bag_prob: float = 0.0) -> list[Agent]:
    """Normal agents over the whole video, avoiding reserved resources.

    Besides plain walkers, sitters and traffic, the look-alikes of the anomalies' single-frame signatures
    (so a detector must read pose and shape, not "someone stands still" or "two people are close"):
    ``bend_prob`` of the walkers stop once inside the frame and bend down for 1-2 s (act ``bend``) before
    walking on; ``together_prob`` of the others walk with a companion side by side at the same speed (both
    act ``walk_together``); each parking bay holds a parked car with chance ``parked_prob`` (act ``park``,
    upright and intact, the whole video); ``bag_prob`` of the walkers carry a bag.
    """
    sc, rng, T, s = ctx.scene, ctx.rng, ctx.T, ctx.s
    ped_rate, car_rate, bike_rate = density
    agents: list[Agent] = []
    # pedestrians on routes
    for route in sc.routes:
        res = route_resources(sc, route)
        L = polyline_length(route)
        span = None
        for _ in range(rng.poisson(ped_rate * (T + L / (NORMAL_WALK[0] * s)))):
            speed = rng.uniform(*NORMAL_WALK) * s
            dur = L / speed
            t0 = int(rng.uniform(-dur, T))
            bend = bend_prob > 0 and rng.uniform() < bend_prob
            n_bend = int(rng.integers(int(ctx.fps), int(2 * ctx.fps) + 1)) if bend else 0
            if not ctx.is_free(res, t0, t0 + dur + n_bend):
                continue
            carry = bag_prob > 0 and bool(rng.uniform() < bag_prob)
            a = ctx.new("person", t0, *route[0])
            if bend:
                span = span or _visible_span(sc, route, 14 * s)
                s_b = rng.uniform(*span)
                walk_polyline(a, route, 0, s_b, speed, pose="walk", act="walk", carry=carry)
                a.add(n_bend, pose="bend", act="bend", facing=last_facing(a), phase_rate=0.0, carry=carry)
                walk_polyline(a, route, s_b, L, speed, pose="walk", act="walk", carry=carry)
                agents.append(a)
                continue
            together = together_prob > 0 and rng.uniform() < together_prob
            act = "walk_together" if together else "walk"
            walk_polyline(a, route, 0, L, speed, pose="walk", act=act, carry=carry)
            agents.append(a)
            if together:  # the companion: the same route shifted beside the first walker, same start and speed
                (xa, ya), (xb, yb) = route[0], route[1]
                sgn = [float(v) for v in rng.choice([-1, 1], 2)]
                if abs(yb - ya) < abs(xb - xa):  # along a horizontal walkway "beside" is nearer/farther in depth
                    ox, oy = sgn[0] * rng.uniform(3.5, 5.0) * s, sgn[1] * rng.uniform(2.0, 3.0) * s
                else:
                    ox, oy = sgn[0] * rng.uniform(4.0, 5.5) * s, rng.uniform(-2.0, 2.0) * s
                shifted = [(x + ox, y + oy) for x, y in route]
                b = ctx.new("person", t0, *shifted[0])
                walk_polyline(b, shifted, 0, L, speed, pose="walk", act="walk_together",
                              carry=bool(rng.uniform() < bag_prob))
                a.attrs["companion"], b.attrs["companion"] = b.aid, a.aid
                agents.append(b)
    # parked cars: upright, intact and still for the whole video, in bays off every lane and route
    for x, y, heading in sc.parking:
        if parked_prob > 0 and rng.uniform() < parked_prob:
            a = ctx.new("car", -5, x, y)
            a.add(T + 10, pose="park", act="park", heading=heading, facing=-1 if heading == "W" else 1,
                  phase_rate=0.0)
            agents.append(a)
    # bench sitters (stationary the whole video)
    bx0, by0, bx1, by1 = sc.bench
    for k in range(rng.integers(0, 3)):
        x = bx0 + (0.3 + 0.4 * k) * (bx1 - bx0) + rng.uniform(-1, 1)
        a = ctx.new("person", -5, x, by0 + 0.62 * (by1 - by0))
        a.add(T + 10, pose="sit", act="sit", facing=int(rng.choice([-1, 1])), phase_rate=0.0)
        agents.append(a)
    # vehicles: one speed per lane so cars never catch up; headway >= vehicle length + gap
    W = sc.width
    for lane in sc.lanes:
        kind = "bicycle" if lane.kind == "bike" else "car"
        rate = bike_rate if kind == "bicycle" else car_rate
        speed = lane_speeds[lane.name]
        length = (18 if kind == "bicycle" else 28) * s
        dur = (W + 2 * length + 10) / speed
        n = rng.poisson(rate * (T + dur))
        times = np.sort(rng.uniform(-dur, T, n))
        last = -1e9
        for t0 in times:
            if t0 - last < (length + 10 * s) / speed:
                continue
            if not ctx.is_free({("lane", lane.name)}, t0, t0 + dur):
                continue
            last = t0
            x_start = -length if lane.direction > 0 else W + length
            a = ctx.new(kind, int(t0), x_start, lane.y)
            act = "ride" if kind == "bicycle" else "drive"
            a.add(dur, lane.direction * speed, 0.0, pose=act, act=act, heading="E" if lane.direction > 0 else "W",
                  facing=lane.direction, phase_rate=0.12 if kind == "bicycle" else 0.0)
            a.attrs["lane"] = lane.name
            agents.append(a)
    return agents


# ----------------------------------------------------------------------------------------------
# anomalous events. Each builder returns (agents, info) with the anomaly starting near ``ts``.
# ----------------------------------------------------------------------------------------------
def _route_inside(ctx: Ctx, route, margin: float):
    """Arc-length range of ``route`` whose points lie inside the frame with ``margin`` px."""
    W, H = ctx.scene.width, ctx.scene.height
    L = polyline_length(route)
    ss = np.linspace(0, L, 200)
    ok = [s for s in ss if margin <= point_at(route, s)[0] <= W - margin and margin <= point_at(route, s)[1] <= H - 2]
    return (min(ok), max(ok)) if ok else (None, None)


def _horizontal_routes(ctx: Ctx):
    return [r for r in ctx.scene.routes if len(r) == 2 and abs(r[0][1] - r[1][1]) < 1e-6]


def ev_running(ctx: Ctx, ts: int, k: int):
    """A walker breaks into a run. Single-frame signature: the ``run`` pose (forward lean, long stride with
    the swinging knee folded, bent arms pumping), besides the speed."""
    rng, s = ctx.rng, ctx.s
    route = ctx.scene.routes[rng.integers(len(ctx.scene.routes))]
    L = polyline_length(route)
    lo, hi = _route_inside(ctx, route, 12 * s)
    s_run = rng.uniform(lo, lo + 0.4 * (hi - lo))
    walk = rng.uniform(*NORMAL_WALK) * s
    run = rng.uniform(*RUN_SPEED) * s
    a = ctx.new("person", ts - s_run / walk, *route[0])
    walk_polyline(a, route, 0, s_run, walk, pose="walk", act="walk")
    walk_polyline(a, route, s_run, L, run, pose="run", act="run", anom=k)
    a.role = "runner"
    return [a], {"route": route, "s_from": s_run}


def ev_wrong_way(ctx: Ctx, ts: int, k: int):
    rng, s, W = ctx.rng, ctx.s, ctx.scene.width
    lanes = ctx.scene.lanes
    lane = lanes[rng.integers(len(lanes))] if rng.uniform() < 0.4 else road_lanes(ctx.scene)[rng.integers(2)]
    kind = "bicycle" if lane.kind == "bike" else "car"
    speed = rng.uniform(*(BIKE_SPEED if kind == "bicycle" else CAR_SPEED)) * s
    d = -lane.direction
    length = (18 if kind == "bicycle" else 28) * s
    x_start = -length / 2 if d > 0 else W + length / 2
    dur = (W + length) / speed
    a = ctx.new(kind, ts, x_start, lane.y)
    act = "ride" if kind == "bicycle" else "drive"
    a.add(dur, d * speed, 0, pose=act, act=act + "_wrong", anom=k, heading="E" if d > 0 else "W", facing=d,
          phase_rate=0.12 if kind == "bicycle" else 0.0)
    a.attrs["lane"] = lane.name
    a.role = "wrong-way " + ("cyclist" if kind == "bicycle" else "car")
    ctx.reserve(("lane", lane.name), ts - 3 * W / speed, ts + dur + 10)
    return [a], {"lane": lane}


def ev_car_on_walkway(ctx: Ctx, ts: int, k: int):
    """A car follows a pedestrian route (sidewalk, footpath, plaza) from one edge to another."""
    rng, s, sc = ctx.rng, ctx.s, ctx.scene
    route = extend_route(sc.routes[rng.integers(len(sc.routes))], 16 * s)  # cars are longer than people
    L = polyline_length(route)
    speed = rng.uniform(1.2, 2.0) * s
    lo, _ = _route_inside(ctx, route, 0)
    s_in = max(lo - 14 * s, 0.0)  # the car's front reaches the frame at ``ts``
    a = ctx.new("car", ts - s_in / speed, *route[0])
    walk_polyline(a, route, 0, s_in, speed, pose="drive", act="drive_walkway", anom=k)
    walk_polyline(a, route, s_in, L + 16 * s, speed, pose="drive", act="drive_walkway", anom=k)
    names = sorted(r[1] for r in route_resources(sc, route))
    a.attrs["walkway"] = names[0] if names else "walkway"
    a.role = "car"
    for r in route_resources(sc, route):
        ctx.reserve(r, ts - 400, ts + (L + 16 * s) / speed + 30)
    return [a], {"route": route, "walkways": names}


def ev_falling(ctx: Ctx, ts: int, k: int):
    """A walker falls, lies on the ground and gets up. Single-frame signature: the body tipped over and then
    lying flat (``rot`` 0 -> 6, 15-degree steps); the normal look-alike is the ``bend`` pose, a walker bent
    down at the hips with the feet still under the body."""
    rng, s = ctx.rng, ctx.s
    route = ctx.scene.routes[rng.integers(len(ctx.scene.routes))]
    L = polyline_length(route)
    lo, hi = _route_inside(ctx, route, 20 * s)
    s_fall = rng.uniform(lo + 0.2 * (hi - lo), lo + 0.8 * (hi - lo))
    walk = rng.uniform(*NORMAL_WALK) * s
    a = ctx.new("person", ts - s_fall / walk, *route[0])
    walk_polyline(a, route, 0, s_fall, walk, pose="walk", act="walk")
    f = last_facing(a)
    fall_n, lie_n, up_n = int(rng.integers(5, 8)), ctx.dur(30, 70), int(rng.integers(8, 14))
    a.add(fall_n, pose="stand", act="fall", anom=k, rot=(0, 6), facing=f, phase_rate=0.0)
    a.add(lie_n, pose="stand", act="lie", anom=k, rot=(6, 6), facing=f, phase_rate=0.0)
    a.add(up_n, pose="stand", act="get_up", anom=k, rot=(6, 0), facing=f, phase_rate=0.0)
    walk_polyline(a, route, s_fall, L, walk * 0.8, pose="walk", act="walk")
    a.role = "faller"
    return [a], {"route": route, "lie_frames": lie_n}


def ev_loitering(ctx: Ctx, ts: int, k: int):
    rng, s, sc = ctx.rng, ctx.s, ctx.scene
    route = sc.routes[rng.integers(len(sc.routes))]
    L = polyline_length(route)
    lo, hi = _route_inside(ctx, route, 25 * s)
    s_stop = rng.uniform(lo + 0.2 * (hi - lo), lo + 0.7 * (hi - lo))
    walk = rng.uniform(*NORMAL_WALK) * s
    a = ctx.new("person", ts - s_stop / walk, *route[0])
    walk_polyline(a, route, 0, s_stop, walk, pose="walk", act="walk")
    # pacing back and forth around the stop point, with pauses and turns (long, aimless lingering)
    total = ctx.dur(90, 150)
    used, f = 0, last_facing(a)
    ox = 0.0
    while used < total:
        pause = int(rng.integers(8, 20))
        a.add(pause, pose="stand", act="loiter", anom=k, facing=f, phase_rate=0.0)
        f = -f if abs(ox) > 3 * s or rng.uniform() < 0.6 else f
        step_n = int(rng.integers(10, 22))
        v = 0.35 * s * f
        if abs(ox + v * step_n) > 8 * s:
            f, v = -f, -v
        a.add(step_n, v, 0.0, pose="walk", act="loiter", anom=k, facing=f)
        ox += v * step_n
        used += pause + step_n
    # return to the route point, then leave
    xe, ye = a.end_xy()
    px, py, _ = point_at(route, s_stop)
    back = abs(px - xe) / walk
    if back >= 1:
        a.add(back, (px - xe) / round(back), 0.0, pose="walk", act="walk", facing=_facing(px - xe))
    walk_polyline(a, route, s_stop, L, walk, pose="walk", act="walk")
    a.role = "loiterer"
    return [a], {"route": route, "point": (px, py), "duration": used}


def ev_fighting(ctx: Ctx, ts: int, k: int):
    """Two people walk up to each other and fight, then split up.

    Single-frame signature: both stand facing each other a punch's length apart in the ``fight`` pose (fists
    raised above the shoulders, one punching, one guarding), jittering; normal pairs walk side by side
    (``walk_together``) with their arms down.
    """
    rng, s, sc = ctx.rng, ctx.s, ctx.scene
    routes = _horizontal_routes(ctx)
    route = routes[rng.integers(len(routes))]
    y = route[0][1]
    xm = rng.uniform(0.3, 0.7) * sc.width
    gap = 5.0 * s  # half the distance between the fighters: close enough to punch, apart enough to see the arms
    walk = rng.uniform(*NORMAL_WALK) * s
    fight_n = ctx.dur(45, 90)
    agents = []
    for side in (-1, 1):
        x_enter = -12 * s if side < 0 else sc.width + 12 * s
        x_meet = xm + side * gap
        n_in = abs(x_meet - x_enter) / walk
        a = ctx.new("person", ts - n_in, x_enter, y + side * 0.5 * s)
        f = -side  # faces the opponent
        a.add(n_in, (x_meet - x_enter) / round(n_in), 0, pose="walk", act="walk", facing=f)
        a.add(fight_n, 0, 0, pose="fight", act="fight", anom=k, facing=f, jitter=1.2 * s, phase_rate=0.18)
        # they split up and walk back the way they came (one hurriedly)
        speed = walk * (1.0 if side < 0 else 1.4)
        x_exit = -14 * s if side < 0 else sc.width + 14 * s
        n_out = abs(x_exit - x_meet) / speed
        a.add(n_out, (x_exit - x_meet) / round(n_out), 0, pose="walk", act="walk", facing=-f)
        a.role = "fighter"
        agents.append(a)
    for r in route_resources(sc, route):  # passers-by would walk through the brawl
        ctx.reserve(r, ts - 300, ts + fight_n + 60)
    return agents, {"x": xm, "y": y, "route": route}


def _askew(rng: np.random.Generator, damage: str) -> float:
    """A collided car's final askew angle: 12-25 degrees (whole degrees: the template cache), the crushed end
    lifted (nose up for a crushed front, tail up for a crushed rear), which makes the tilt plain to see."""
    return float(round(rng.uniform(12, 25))) * (1.0 if damage == "front" else -1.0)


SETTLE_N = 4  # frames a collided car takes to swing askew (and to straighten again when it drives off)


def _crash_hold(car: Agent, n: int, k: int, d: int, tilt: float, damage: str) -> None:
    """Append ``n`` frames of a car stopped dead by an impact: it swings askew over :data:`SETTLE_N` frames,
    crushed at its ``damage`` end, then stands still askew."""
    hd = "E" if d > 0 else "W"
    car.add(SETTLE_N, 0, 0, pose="drive", act="crash", anom=k, heading=hd, facing=d, tilt=(0.0, tilt), damage=damage)
    car.add(n - SETTLE_N, 0, 0, pose="drive", act="crash", anom=k, heading=hd, facing=d, tilt=(tilt, tilt),
            damage=damage)


def _drive_off(car: Agent, W: float, Lc: float, d: int, k: int, tilt: float, damage: str, s: float) -> None:
    """Append a collided car limping out of the frame: it straightens up, still crushed, still anomalous."""
    hd = "E" if d > 0 else "W"
    v = 1.6 * s
    car.add(SETTLE_N, d * v, 0, pose="drive", act="drive_away", anom=k, heading=hd, facing=d, tilt=(tilt, 0.0),
            damage=damage)
    xe, _ = car.end_xy()
    x_exit = W + Lc if d > 0 else -Lc
    car.add(abs(x_exit - xe) / v, d * v, 0, pose="drive", act="drive_away", anom=k, heading=hd, facing=d,
            damage=damage)


def ev_collision(ctx: Ctx, ts: int, k: int):
    """A rear-end crash of two cars, or a car hitting a jaywalking person.

    Single-frame signature: after the impact every collided car stands askew (12-25 degrees, drawn per car
    from the event's rng) with its hit end crushed (``Chunk.tilt``/``damage``, drawn by
    :func:`~vadkit.data.synth.world.car_template`): the car in front at its rear, the car behind (and a car
    that hits a person) at its front; a hit person lies on the ground. Damage stays while the cars limp
    away (straightened), all of it inside the anomalous frames.
    """
    rng, s, sc = ctx.rng, ctx.s, ctx.scene
    W = sc.width
    lane = road_lanes(sc)[rng.integers(2)]
    d = lane.direction
    vB = rng.uniform(*CAR_SPEED) * s
    xc = rng.uniform(0.35, 0.65) * W  # impact point
    stop_n = ctx.dur(30, 55)
    agents = []
    debris_at = None
    if rng.uniform() < 0.5:  # rear-end: car A brakes hard, car B runs into it
        variant = "rear_end"
        Lc = 26 * s
        vA = vB * 0.45
        xA_enter = -Lc if d > 0 else W + Lc
        nA = abs(xc + d * Lc / 2 - xA_enter) / vA
        A = ctx.new("car", ts - nA, xA_enter, lane.y)
        A.add(nA, d * vA, 0, pose="drive", act="drive", heading="E" if d > 0 else "W", facing=d)
        tA, tB = _askew(rng, "rear"), _askew(rng, "front")
        # the car in front is pushed on a little, crushed at the rear; the car behind stops dead, crushed at the front
        A.add(SETTLE_N, d * 0.5 * s, 0, pose="drive", act="crash", anom=k, heading="E" if d > 0 else "W", facing=d,
              tilt=(0.0, tA), damage="rear")
        A.add(stop_n, 0, 0, pose="drive", act="stopped", anom=k, heading="E" if d > 0 else "W", facing=d,
              tilt=(tA, tA), damage="rear")
        xB_enter = -Lc if d > 0 else W + Lc
        xB_hit = xc - d * Lc / 2
        nB = abs(xB_hit - xB_enter) / vB
        B = ctx.new("car", ts - nB, xB_enter, lane.y)
        B.add(nB, d * vB, 0, pose="drive", act="drive", heading="E" if d > 0 else "W", facing=d)
        _crash_hold(B, SETTLE_N + stop_n, k, d, tB, "front")
        # then both limp away slowly (still part of the incident until they leave)
        for car, tilt, dmg in ((A, tA, "rear"), (B, tB, "front")):
            _drive_off(car, W, Lc, d, k, tilt, dmg, s)
        A.role, B.role = "car in front", "car behind"
        agents = [A, B]
        debris_at = (xc, lane.y - 1 * s)
    else:  # a pedestrian jaywalks across the road and is hit
        variant = "pedestrian"
        y_top, y_bot = sc.road[0] - 3 * s, sc.road[1] + 2 * s
        walk = rng.uniform(*NORMAL_WALK) * s * 1.3
        down = y_top < lane.y
        y_from = y_top if down else y_bot
        nP = abs(lane.y - 1 * s - y_from) / walk
        P = ctx.new("person", ts - nP, xc, y_from)
        f = int(rng.choice([-1, 1]))
        vy = walk if lane.y > y_from else -walk
        P.add(nP, 0, vy, pose="walk", act="jaywalk", facing=f, heading="S" if vy > 0 else "N")
        P.add(6, 0, 0, pose="stand", act="fall", anom=k, rot=(0, 6), facing=-d)
        P.add(stop_n, 0, 0, pose="stand", act="lie", anom=k, rot=(6, 6), facing=-d)
        P.add(10, 0, 0, pose="stand", act="get_up", anom=k, rot=(6, 0), facing=-d)
        y_exit = y_bot + 2 * s if vy > 0 else y_top - 2 * s
        n = abs(y_exit - lane.y) / (0.7 * s)
        P.add(n, 0, (y_exit - lane.y) / round(n), pose="walk", act="limp", anom=k, facing=f)
        x_off = -14 * s if xc < W / 2 else W + 14 * s
        n_off = abs(x_off - xc) / walk
        P.add(n_off, (x_off - xc) / round(n_off), 0, pose="walk", act="walk", facing=_facing(x_off - xc))
        Lc = 26 * s
        x_enter = -Lc if d > 0 else W + Lc
        x_hit = xc - d * (Lc / 2 + 1 * s)
        nC = abs(x_hit - x_enter) / vB
        C = ctx.new("car", ts - nC, x_enter, lane.y)
        C.add(nC, d * vB, 0, pose="drive", act="drive", heading="E" if d > 0 else "W", facing=d)
        tC = _askew(rng, "front")
        _crash_hold(C, 6 + stop_n, k, d, tC, "front")
        _drive_off(C, W, Lc, d, k, tC, "front", s)
        P.role, C.role = "pedestrian", "car"
        agents = [C, P]
        debris_at = (xc - d * 3 * s, lane.y - 2 * s)
    # debris: glass and plastic fragments around the impact point while the vehicles stand
    D = ctx.new("debris", ts + 1, *debris_at)
    D.add(stop_n + 2, 0, 0, pose="debris", act="debris", anom=k, phase_rate=0.0)
    D.attrs["points"] = [(float(rng.normal(0, 4 * s)), float(-abs(rng.normal(0, 1.5 * s))),
                          int(rng.integers(0, 3))) for _ in range(int(rng.integers(10, 18)))]
    D.role = "debris"
    agents.append(D)
    ctx.reserve(("lane", lane.name), ts - 3 * W / (0.9 * s) - 200, ts + 2000)
    return agents, {"lane": lane, "variant": variant, "x": xc}


def ev_theft(ctx: Ctx, ts: int, k: int):
    """A thief comes up behind a walker, snatches the bag and runs off with it.

    Single-frame signature: the bag changes hands. The victim carries it until the snatch; during the
    snatch the thief reaches for it (``grab``) and then holds it in the reaching hand; the thief flees in
    the running stride with the bag, and the victim, empty-handed, throws up both arms (``alarm``).
    Normal walkers carry bags too (``SynthConfig.bag_prob``), so it is the hand-over, not the bag, that
    tells.
    """
    rng, s, sc = ctx.rng, ctx.s, ctx.scene
    routes = _horizontal_routes(ctx)
    route = routes[rng.integers(len(routes))]
    (xa, y), (xb, _) = route
    d = 1 if xb > xa else -1
    vV = rng.uniform(0.55, 0.7) * s
    vT = vV * 1.9
    x_meet = rng.uniform(0.35, 0.6) * sc.width if d > 0 else rng.uniform(0.4, 0.65) * sc.width
    nV = abs(x_meet - xa) / vV
    V = ctx.new("person", ts - nV, xa, y)
    V.add(nV, d * vV, 0, pose="walk", act="walk", facing=d, carry=True)
    nT = abs(x_meet - d * 3 * s - xa) / vT
    Tf = ctx.new("person", ts - nT, xa, y + 1 * s)
    Tf.add(max(nT - 18, 1), d * vT, 0, pose="walk", act="walk", facing=d)
    Tf.add(18, d * vT, 0, pose="walk", act="approach", anom=k, facing=d)
    reach_n, hold_n = int(rng.integers(2, 4)), int(rng.integers(3, 5))
    # snatch: thief reaches out, the bag changes hands, thief runs off ahead of the victim
    Tf.add(reach_n, d * 0.3 * s, 0, pose="grab", act="snatch", anom=k, facing=d)
    Tf.add(hold_n, d * 0.3 * s, 0, pose="grab", act="snatch", anom=k, facing=d, carry=True)
    V.add(reach_n, 0, 0, pose="stand", act="robbed", anom=k, facing=d, carry=True, phase_rate=0.0)
    V.add(hold_n, 0, 0, pose="alarm", act="robbed", anom=k, facing=d, phase_rate=0.0)
    run = rng.uniform(*RUN_SPEED) * s
    x_now = Tf.end_xy()[0]
    x_exit = sc.width + 14 * s if d > 0 else -14 * s
    n_run = abs(x_exit - x_now) / run
    Tf.add(n_run, d * run, 0, pose="run", act="flee", anom=k, facing=d, carry=True)
    alarm = ctx.dur(15, 25)
    V.add(alarm, 0, 0, pose="alarm", act="robbed", anom=k, facing=d, phase_rate=0.0)
    xv = V.end_xy()[0]
    n_out = abs(x_exit - xv) / vV
    V.add(n_out, d * vV, 0, pose="walk", act="walk", facing=d)
    Tf.role, V.role = "thief", "victim"
    # the victim's approach frames are also part of the incident (they are the target)
    V.chunks[0:1] = _split_tail(V.chunks[0], 18, k)
    res = route_resources(sc, route)
    for r in res:
        ctx.reserve(r, ts - 400, ts + 60)
    return [Tf, V], {"route": route, "direction": d, "x": x_meet}


def _split_tail(c: Chunk, n_tail: int, k: int) -> list[Chunk]:
    """Split chunk ``c`` so its last ``n_tail`` frames carry anomaly flag ``k``."""
    import dataclasses

    n_tail = min(n_tail, c.n - 1)
    if n_tail <= 0:
        return [c]
    head = dataclasses.replace(c, n=c.n - n_tail)
    tail = dataclasses.replace(c, n=n_tail, anom=k, act="approached")
    return [head, tail]


# ----------------------------------------------------------------------------------------------
# context-defined traffic anomalies (TAD's spirit; generated on request only) and their hard negatives
# ----------------------------------------------------------------------------------------------
OCCUPY_AFTER_S = 3.0  # a car standing longer than this in a lane occupies it
ON_ROAD_AFTER_S = 2.0  # a person on the carriageway longer than a crossing takes
TURN_AFTER_S = 1.5  # a U-turn stays anomalous while the car settles into the opposite lane
CAR_LENGTH = 26.0  # px at scale 1 (the car sprite's side view)


def _kerbs(sc: Scene) -> tuple[float, float]:
    """Feet y of a person on the kerb just above and just below the carriageway."""
    return sc.road[0] - 3 * sc.scale, sc.road[1] + 2 * sc.scale


def _heading_x(d: int) -> str:
    return "E" if d > 0 else "W"


BRAKE_PROFILE = ((0.6, 5), (0.35, 5), (0.12, 5))  # (share of the speed, frames): ~1 s to a stop
BRAKE_FRAMES = sum(n for _, n in BRAKE_PROFILE)


def brake_distance(v: float) -> float:
    """Distance a car at speed ``v`` covers while braking (:data:`BRAKE_PROFILE`)."""
    return sum(f * v * n for f, n in BRAKE_PROFILE)


def _brake(a: Agent, v: float, d: int, anom: int = -1) -> None:
    """Append ~1 s of braking to a stop (:data:`BRAKE_PROFILE`)."""
    for f, n in BRAKE_PROFILE:
        a.add(n, d * f * v, 0, pose="drive", act="brake", anom=anom, heading=_heading_x(d), facing=d)


def ev_illegal_occupation(ctx: Ctx, ts: int, k: int):
    """A car stops in its traffic lane and stays there (TAD's IllegalOccupation).

    Why it needs context: in any one frame, and for its first seconds, a car standing in a lane is what a
    car waiting in traffic looks like (the normal hard negatives, ``SynthConfig.stop_rate``, stop for
    1-2.5 s and drive on). Only staying past :data:`OCCUPY_AFTER_S` seconds makes it an occupation, so the
    anomaly starts there: a detector must have watched the car for more than 3 s to call it.
    """
    rng, s, sc = ctx.rng, ctx.s, ctx.scene
    W = sc.width
    lane = road_lanes(sc)[rng.integers(2)]
    d = lane.direction
    v = rng.uniform(*CAR_SPEED) * s
    Lc = CAR_LENGTH * s
    x_stop = rng.uniform(0.3, 0.7) * W
    x_enter = -Lc if d > 0 else W + Lc
    n_in = abs(x_stop - d * brake_distance(v) - x_enter) / v
    grace = int(round(OCCUPY_AFTER_S * ctx.fps))
    a = ctx.new("car", ts - n_in - BRAKE_FRAMES - grace, x_enter, lane.y)
    a.add(n_in, d * v, 0, pose="drive", act="drive", heading=_heading_x(d), facing=d)
    _brake(a, v, d)
    a.add(grace, 0, 0, pose="drive", act="wait", heading=_heading_x(d), facing=d)
    dwell = ctx.dur(90, 200)
    a.add(dwell, 0, 0, pose="drive", act="occupy", anom=k, heading=_heading_x(d), facing=d)
    xe = a.end_xy()[0]
    x_exit = W + Lc if d > 0 else -Lc
    a.add(abs(x_exit - xe) / v, d * v, 0, pose="drive", act="drive", heading=_heading_x(d), facing=d)
    a.attrs["lane"] = lane.name
    a.role = "parked car"
    ctx.reserve(("lane", lane.name), a.t0 - 2 * W / (CAR_SPEED[0] * s), a.t0 + a.n + 10)
    return [a], {"lane": lane, "dwell_frames": dwell}


def ev_pedestrian_on_road(ctx: Ctx, ts: int, k: int):
    """A person steps onto the carriageway and walks along the traffic lane (TAD's PedestrianOnRoad).

    Why it needs context: a person on the asphalt in one frame, and for the second or two a crossing takes,
    is what a pedestrian crossing the road looks like (the normal hard negatives,
    ``SynthConfig.crossing_rate``, cross at a right angle in about 1.5 s). Walking *along* the lane for
    longer than that is the anomaly: it starts :data:`ON_ROAD_AFTER_S` seconds after the person steps onto
    the road, so a one-frame detector cannot tell it from a crossing.
    """
    rng, s, sc = ctx.rng, ctx.s, ctx.scene
    W = sc.width
    lane = road_lanes(sc)[rng.integers(2)]
    y_top, y_bot = _kerbs(sc)
    y_kerb = y_top if lane.y < 0.5 * (sc.road[0] + sc.road[1]) else y_bot
    y_on = lane.y - 1 * s
    f = int(rng.choice([-1, 1]))
    walk = rng.uniform(0.4, 0.55) * s  # a slow, aimless walk along the lane
    x0 = rng.uniform(0.1, 0.3) * W if f > 0 else rng.uniform(0.7, 0.9) * W
    x_enter = -12 * s if f > 0 else W + 12 * s
    n1 = abs(x0 - x_enter) / walk
    grace = int(round(ON_ROAD_AFTER_S * ctx.fps))
    n2 = max(abs(y_on - y_kerb) / walk, 1.0)
    P = ctx.new("person", ts - n1 - n2 - grace, x_enter, y_kerb)
    P.add(n1, f * walk, 0, pose="walk", act="walk", facing=f)
    P.add(n2, 0, (y_on - y_kerb) / round(n2), pose="walk", act="step_onto_road", facing=f)
    P.add(grace, f * walk, 0, pose="walk", act="walk_on_road", facing=f)
    along = ctx.dur(45, 90)
    P.add(along, f * walk, 0, pose="walk", act="walk_on_road", anom=k, facing=f)
    P.add(n2, 0, (y_kerb - y_on) / round(n2), pose="walk", act="leave_road", anom=k, facing=f)
    xe = P.end_xy()[0]
    x_exit = W + 12 * s if f > 0 else -12 * s
    P.add(abs(x_exit - xe) / walk, f * walk, 0, pose="walk", act="walk", facing=f)
    P.attrs["lane"] = lane.name
    P.role = "pedestrian on the road"
    t_on = P.t0 + n1
    ctx.reserve(("lane", lane.name), t_on - 2 * W / (CAR_SPEED[0] * s), t_on + n2 * 2 + grace + along + 10)
    return [P], {"lane": lane, "on_road_frames": grace + along}


def ev_illegal_turn(ctx: Ctx, ts: int, k: int):
    """A car makes a U-turn across the road (TAD's IllegalTurn).

    Why it needs context: before and after the turn the car drives normally, in the direction of the lane
    it is in; it is the trajectory over several seconds, one lane one way and then the other lane the
    other way, that makes a U-turn. The turn itself (about a second, the car across the lanes nose up or
    down) is its only single-frame cue; the anomaly lasts until the car has driven :data:`TURN_AFTER_S`
    seconds in the opposite lane, frames in which one frame shows a normal car.
    """
    rng, s, sc = ctx.rng, ctx.s, ctx.scene
    W = sc.width
    lanes = road_lanes(sc)
    i = int(rng.integers(2))
    A, B = lanes[i], lanes[1 - i]
    d = A.direction
    v = rng.uniform(*CAR_SPEED) * s
    Lc = CAR_LENGTH * s
    x_turn = rng.uniform(0.35, 0.65) * W
    x_enter = -Lc if d > 0 else W + Lc
    n_in = abs(x_turn - x_enter) / v
    car = ctx.new("car", ts - n_in - 6, x_enter, A.y)
    car.add(n_in, d * v, 0, pose="drive", act="drive", heading=_heading_x(d), facing=d)
    car.add(6, d * 0.4 * v, 0, pose="drive", act="brake", anom=k, heading=_heading_x(d), facing=d)
    n_t = 12
    car.add(n_t, d * 0.15 * v, (B.y - A.y) / n_t, pose="drive", act="u_turn", anom=k,
            heading="N" if B.y < A.y else "S", facing=d)
    after = int(round(TURN_AFTER_S * ctx.fps))
    car.add(after, -d * 0.7 * v, 0, pose="drive", act="drive", anom=k, heading=_heading_x(-d), facing=-d)
    xe = car.end_xy()[0]
    x_exit = -Lc if d > 0 else W + Lc
    car.add(abs(x_exit - xe) / v, -d * v, 0, pose="drive", act="drive", heading=_heading_x(-d), facing=-d)
    car.attrs["lane"] = A.name
    car.attrs["to_lane"] = B.name
    car.role = "turning car"
    t_turn = car.t0 + n_in
    for lane in (A, B):
        ctx.reserve(("lane", lane.name), t_turn - 2 * W / (CAR_SPEED[0] * s), t_turn + 2 * W / v + 40)
    return [car], {"lanes": (A, B), "x": x_turn}


def hard_negatives(ctx: Ctx, lane_speeds: dict, stop_rate: float, crossing_rate: float) -> list[Agent]:
    """Normal road users that look like the context types in one frame: cars that stop in their lane for
    1-2.5 s and drive on (``stop_rate`` per frame per road lane), people who cross the road at a right
    angle (``crossing_rate`` per frame). Each reserves what it uses, so normal traffic avoids it."""
    rng, s, sc, T = ctx.rng, ctx.s, ctx.scene, ctx.T
    W = sc.width
    Lc = CAR_LENGTH * s
    out: list[Agent] = []
    for lane in road_lanes(sc):
        d, v = lane.direction, lane_speeds[lane.name]
        for _ in range(rng.poisson(stop_rate * T)):
            t0 = int(rng.uniform(-W / v, T))
            x_stop = rng.uniform(0.25, 0.75) * W
            wait = int(rng.integers(int(ctx.fps), int(2.5 * ctx.fps) + 1))
            x_enter = -Lc if d > 0 else W + Lc
            n_in = abs(x_stop - d * brake_distance(v) - x_enter) / v
            total = n_in + BRAKE_FRAMES + wait + 10 + (W + 2 * Lc) / v
            if not ctx.is_free({("lane", lane.name)}, t0 - W / v, t0 + total):
                continue
            a = ctx.new("car", t0, x_enter, lane.y)
            a.add(n_in, d * v, 0, pose="drive", act="drive", heading=_heading_x(d), facing=d)
            _brake(a, v, d)
            a.add(wait, 0, 0, pose="drive", act="wait", heading=_heading_x(d), facing=d)
            a.add(5, d * 0.35 * v, 0, pose="drive", act="drive", heading=_heading_x(d), facing=d)
            xe = a.end_xy()[0]
            a.add(abs((W + Lc if d > 0 else -Lc) - xe) / v, d * v, 0, pose="drive", act="drive",
                  heading=_heading_x(d), facing=d)
            a.attrs["lane"] = lane.name
            ctx.reserve(("lane", lane.name), t0 - W / v, t0 + a.n + 10)
            out.append(a)
    y_top, y_bot = _kerbs(sc)
    lanes = {("lane", l.name) for l in road_lanes(sc)}
    for _ in range(rng.poisson(crossing_rate * T)):
        walk = rng.uniform(*NORMAL_WALK) * s
        down = bool(rng.uniform() < 0.5)
        x = rng.uniform(0.2, 0.8) * W
        y0, y1 = (y_top, y_bot) if down else (y_bot, y_top)
        n_c = abs(y1 - y0) / (walk * 1.2)
        t0 = int(rng.uniform(-40, T))
        if not ctx.is_free(lanes, t0 - W / (CAR_SPEED[0] * s), t0 + n_c + 10):
            continue
        f = int(rng.choice([-1, 1]))
        a = ctx.new("person", t0, x, y0)
        a.add(n_c, 0, (y1 - y0) / round(n_c), pose="walk", act="cross", facing=f)
        x_exit = W + 12 * s if f > 0 else -12 * s
        a.add(abs(x_exit - x) / walk, f * walk, 0, pose="walk", act="walk", facing=f)
        for r in lanes:
            ctx.reserve(r, t0 - W / (CAR_SPEED[0] * s), t0 + n_c + 10)
        out.append(a)
    return out


EVENT_BUILDERS = {
    "running": ev_running,
    "wrong_way": ev_wrong_way,
    "car_on_walkway": ev_car_on_walkway,
    "falling": ev_falling,
    "loitering": ev_loitering,
    "fighting": ev_fighting,
    "collision": ev_collision,
    "theft": ev_theft,
    "illegal_occupation": ev_illegal_occupation,
    "pedestrian_on_road": ev_pedestrian_on_road,
    "illegal_turn": ev_illegal_turn,
}
