"""SynthVAD world: constants, :class:`SynthConfig`, scene layouts, background textures, sprites.

Everything here is pure drawing with numpy (plus ``cv2`` for blurs and rotations); nothing touches
the disk. Coordinates are pixels with the origin top-left, ``x`` to the right, ``y`` down. Scene
layouts are written for the base size 160x120 and scaled to :attr:`SynthConfig.width` /
:attr:`SynthConfig.height`; sprites scale with ``height / 120``.

Sprites are rendered as *label templates*: an integer part map (skin, shirt, trousers, car body,
window, tyre, ...) plus a multiplicative shade map (light from the upper left, fixed fabric/paint
texture). An agent's colours are a per-agent palette indexed by the part map, so one cached template
serves every clothing or paint colour. Templates are cached per process (``functools.lru_cache``).
"""

from __future__ import annotations

import dataclasses
import functools
import math
import zlib
from dataclasses import dataclass, field

import numpy as np

GENERATOR_VERSION = "2.0.0"

SINGLE_OBJECT_TYPES: tuple[str, ...] = ("running", "wrong_way", "car_on_walkway", "falling", "loitering")
INTERACTION_TYPES: tuple[str, ...] = ("fighting", "collision", "theft")
ANOMALY_TYPES: tuple[str, ...] = SINGLE_OBJECT_TYPES + INTERACTION_TYPES
CLASS_NAMES: tuple[str, ...] = ("normal",) + ANOMALY_TYPES
#: Context-defined traffic types in the spirit of TAD (VAD-LLaMA's second dataset): each needs seconds of
#: context to tell from a normal road user (see each builder's docstring in ``simulate``). Generated only
#: on request (``anomaly_types``), so the default splits, and every root made without them, are unchanged.
CONTEXT_TYPES: tuple[str, ...] = ("illegal_occupation", "pedestrian_on_road", "illegal_turn")
ALL_ANOMALY_TYPES: tuple[str, ...] = ANOMALY_TYPES + CONTEXT_TYPES
OBJECT_CLASSES: tuple[str, ...] = ("person", "car", "bicycle", "debris")

#: UCF-style CamelCase names used in video ids ("Fighting_0003", "Normal_0012").
CAMEL_NAMES: dict[str, str] = {
    "normal": "Normal",
    "running": "Running",
    "wrong_way": "WrongWay",
    "car_on_walkway": "CarOnWalkway",
    "falling": "Falling",
    "loitering": "Loitering",
    "fighting": "Fighting",
    "collision": "Collision",
    "theft": "Theft",
    "illegal_occupation": "IllegalOccupation",
    "pedestrian_on_road": "PedestrianOnRoad",
    "illegal_turn": "IllegalTurn",
}


def class_names_for(types) -> tuple[str, ...]:
    """``("normal", ...)`` of a root whose splits hold ``types``: the default vocabulary, plus the requested
    context types in :data:`ALL_ANOMALY_TYPES` order (so a root without them keeps :data:`CLASS_NAMES`)."""
    present = set(types)
    extra = [t for t in CONTEXT_TYPES if t in present]
    return CLASS_NAMES + tuple(extra)

SCENE_NAMES: tuple[str, ...] = ("street", "plaza", "park", "campus")


@dataclass
class SynthConfig:
    """Generator settings (all of them are recorded in ``synthvad.json`` and in cache hashes).

    Frame size is ``width x height`` = 160x120 at 15 fps by default: one person is ~18 px tall, a car
    ~26x13 px, so a whole video is cheap to render and to feed to tiny models, while motion
    (walking ~0.7 px/frame, running ~2.5 px/frame, cars ~3 px/frame) stays visible over 1-2 s.
    """

    width: int = 160
    height: int = 120
    fps: float = 15.0
    min_frames: int = 160
    max_frames: int = 320
    scenes: tuple[str, ...] = SCENE_NAMES
    abnormal_fraction: float = 0.5  # share of abnormal videos per split
    second_event_prob: float = 0.2  # XD-style: an abnormal video sometimes has 2 events of different types
    pedestrian_rate: float = 0.003  # arrivals per frame per walking route (Poisson)
    car_rate: float = 0.012  # arrivals per frame per lane
    bicycle_rate: float = 0.006  # arrivals per frame on the bike lane
    noise_sigma: tuple[float, float] = (2.0, 4.0)  # per-video sensor noise std (grey levels)
    illumination_amplitude: tuple[float, float] = (0.02, 0.07)  # slow global gain drift
    max_attempts: int = 25  # re-draws of a video whose events do not fit its length
    # normal hard negatives of the context types (0 = none, the default world): cars that stop in their
    # lane for 1-2.5 s and drive on; people who cross the road at a right angle
    stop_rate: float = 0.0  # arrivals per frame per road lane
    crossing_rate: float = 0.0  # arrivals per frame
    # normal look-alikes of the single-frame anomaly signatures (added in 2.0, on in the default world): a
    # walker who stops for 1-2 s and bends down (looks like a fall in progress), a walker with a companion
    # side by side (looks like an interacting pair), a parked car in a parking bay (looks like a stopped
    # car), a walker carrying a bag (so a bag alone does not mean theft)
    bend_prob: float = 0.12  # share of walkers who stop once and bend down
    together_prob: float = 0.15  # share of walkers who walk with a companion
    parked_prob: float = 0.35  # chance that a parking bay holds a parked car (per bay and video)
    bag_prob: float = 0.2  # share of walkers who carry a bag

    def __post_init__(self) -> None:
        from vadkit.errors import ConfigError

        self.scenes = tuple(self.scenes)
        self.noise_sigma = tuple(self.noise_sigma)
        self.illumination_amplitude = tuple(self.illumination_amplitude)
        bad = [s for s in self.scenes if s not in SCENE_NAMES]
        if bad or not self.scenes:
            raise ConfigError(f"SynthConfig.scenes: unknown scene(s) {bad}; choose from {SCENE_NAMES}")
        if self.width < 64 or self.height < 48:
            raise ConfigError(f"SynthConfig: frame size {self.width}x{self.height} is too small (min 64x48)")
        if not (24 <= self.min_frames <= self.max_frames):
            raise ConfigError(
                f"SynthConfig: need 24 <= min_frames <= max_frames, got {self.min_frames}, {self.max_frames}"
            )
        for name in ("abnormal_fraction", "bend_prob", "together_prob", "parked_prob", "bag_prob"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ConfigError(f"SynthConfig.{name} must be in [0, 1], got {getattr(self, name)}")

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["scenes"] = list(self.scenes)
        d["noise_sigma"] = list(self.noise_sigma)
        d["illumination_amplitude"] = list(self.illumination_amplitude)
        for k in ("stop_rate", "crossing_rate"):  # added in 1.2: left out at 0 so older requests keep their hash
            if not d[k]:
                del d[k]
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "SynthConfig":
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})


# ----------------------------------------------------------------------------------------------
# Part labels and colour names
# ----------------------------------------------------------------------------------------------
SKIN, HAIR, SHIRT, TROUSERS, SHOES, ITEM, BODY, WINDOW, TYRE, HUB, HEADLIGHT, TAILLIGHT, FRAME, PLATE = range(1, 15)
DAMAGE = 15  # crumpled metal of a collided car (its palette colour is a dark shade of the paint)
N_PARTS = 16
SHADOW = 255

SHIRT_COLOURS = {
    "red": (200, 40, 40), "blue": (40, 80, 200), "green": (40, 160, 60), "yellow": (230, 200, 40),
    "white": (235, 235, 235), "black": (30, 30, 30), "orange": (240, 130, 30), "purple": (130, 50, 170),
    "pink": (240, 130, 170), "grey": (130, 130, 130),
}
TROUSER_COLOURS = {
    "dark blue": (30, 40, 90), "black": (25, 25, 25), "grey": (110, 110, 115), "brown": (110, 75, 40),
    "beige": (200, 180, 140),
}
CAR_COLOURS = {
    "red": (190, 30, 30), "blue": (30, 70, 180), "white": (235, 235, 235), "black": (35, 35, 40),
    "silver": (175, 178, 185), "yellow": (235, 195, 30), "green": (30, 130, 60),
}
BIKE_COLOURS = {"red": (200, 40, 40), "blue": (40, 90, 210), "yellow": (230, 200, 40), "black": (30, 30, 30),
                "green": (40, 160, 60)}
ITEM_COLOURS = {"brown": (120, 70, 30), "black": (30, 30, 30), "red": (190, 30, 40), "white": (230, 230, 225)}
SKIN_TONES = [(235, 200, 170), (200, 150, 110), (150, 100, 70), (95, 65, 45)]
HAIR_COLOURS = [(30, 25, 20), (90, 60, 30), (200, 170, 90), (140, 140, 140)]


def person_palette(rng: np.random.Generator) -> tuple[np.ndarray, dict]:
    """Random clothing: palette ``[N_PARTS, 3]`` float32 and the colour names used by the text."""
    pal = np.zeros((N_PARTS, 3), np.float32)
    shirt = list(SHIRT_COLOURS)[rng.integers(len(SHIRT_COLOURS))]
    trousers = list(TROUSER_COLOURS)[rng.integers(len(TROUSER_COLOURS))]
    item = list(ITEM_COLOURS)[rng.integers(len(ITEM_COLOURS))]
    pal[SKIN] = SKIN_TONES[rng.integers(len(SKIN_TONES))]
    pal[HAIR] = HAIR_COLOURS[rng.integers(len(HAIR_COLOURS))]
    pal[SHIRT] = SHIRT_COLOURS[shirt]
    pal[TROUSERS] = TROUSER_COLOURS[trousers]
    pal[SHOES] = (40, 35, 30)
    pal[ITEM] = ITEM_COLOURS[item]
    return pal, {"shirt": shirt, "trousers": trousers, "item": item}


def car_palette(rng: np.random.Generator) -> tuple[np.ndarray, dict]:
    pal = np.zeros((N_PARTS, 3), np.float32)
    colour = list(CAR_COLOURS)[rng.integers(len(CAR_COLOURS))]
    pal[BODY] = CAR_COLOURS[colour]
    pal[WINDOW] = (60, 80, 105)
    pal[TYRE] = (20, 20, 20)
    pal[HUB] = (160, 160, 165)
    pal[HEADLIGHT] = (255, 245, 190)
    pal[TAILLIGHT] = (220, 20, 20)
    pal[PLATE] = (240, 240, 240)
    # crumpled metal: a dark shade of light paint, bare scraped grey under dark paint (visible on every colour);
    # no draw from rng, so the palette streams stay as they were
    pal[DAMAGE] = (0.35 * pal[BODY] + 20) if pal[BODY].mean() > 90 else (105, 100, 95)
    return pal, {"colour": colour}


def bicycle_palette(rng: np.random.Generator) -> tuple[np.ndarray, dict]:
    pal, names = person_palette(rng)
    bike = list(BIKE_COLOURS)[rng.integers(len(BIKE_COLOURS))]
    pal[FRAME] = BIKE_COLOURS[bike]
    pal[TYRE] = (20, 20, 20)
    pal[HUB] = (150, 150, 150)
    names["bike"] = bike
    return pal, names


# ----------------------------------------------------------------------------------------------
# Scenes
# ----------------------------------------------------------------------------------------------
@dataclass
class Walkway:
    """A straight footway: rect ``(x0, y0, x1, y1)``; ``axis`` 'h' or 'v'; ``line`` = anchor coordinate
    people walk on (y for 'h', x for 'v')."""

    name: str
    rect: tuple[float, float, float, float]
    axis: str
    line: float


@dataclass
class Lane:
    """A traffic lane along the x axis: vehicles' bottom edge at ``y``; ``direction`` +1 = to the right."""

    name: str
    y: float
    direction: int
    kind: str = "road"  # "road" or "bike"


@dataclass
class Scene:
    name: str
    width: int
    height: int
    scale: float
    regions: np.ndarray  # [H, W] uint8 region ids (REGION_NAMES)
    walkways: list[Walkway]
    lanes: list[Lane]
    routes: list[list[tuple[float, float]]]  # pedestrian polylines, start and end off-screen
    bench: tuple[float, float, float, float]
    restricted: tuple[float, float, float, float]
    restricted_name: str
    road: tuple[float, float]  # y0, y1 of the carriageway
    trees: list[tuple[float, float, float]] = field(default_factory=list)
    #: parking spots ``(x, y, heading)`` (anchor of a parked car: bottom centre) and the bays' rects; they
    #: lie off every lane and route, so a parked car blocks nobody
    parking: list[tuple[float, float, str]] = field(default_factory=list)
    parking_bays: list[tuple[float, float, float, float]] = field(default_factory=list)


REGION_GRASS, REGION_WALKWAY, REGION_ROAD, REGION_BIKE, REGION_RESTRICTED, REGION_BENCH, REGION_PARKING = range(7)
REGION_NAMES = ("grass", "walkway", "road", "bike lane", "restricted zone", "bench area", "parking area")


def _layout(name: str) -> dict:
    """Scene layouts in base 160x120 pixel coordinates."""
    if name == "street":
        return dict(
            road=(52, 80),
            lanes=[Lane("upper lane", 65, -1), Lane("lower lane", 79, +1), Lane("bike lane", 88, +1, "bike")],
            bike=(80, 89),
            walkways=[Walkway("upper sidewalk", (0, 40, 160, 52), "h", 49),
                      Walkway("lower sidewalk", (0, 89, 160, 101), "h", 98),
                      Walkway("footpath", (68, 0, 80, 40), "v", 74)],
            routes=[[(-12, 49), (172, 49)], [(172, 47), (-12, 47)], [(-12, 98), (172, 98)], [(172, 99), (-12, 99)],
                    [(74, -20), (74, 48), (172, 48)], [(172, 50), (75, 50), (75, -20)],
                    [(-12, 50), (73, 50), (73, -20)]],
            bench=(20, 104, 46, 117), restricted=(108, 103, 152, 118), restricted_name="construction site",
            trees=[(25, 15, 9), (125, 18, 11), (150, 8, 7)],
            parking=[(64, 116, "E"), (92, 116, "W")], parking_bays=[(49, 102, 107, 119)],
        )
    if name == "plaza":
        return dict(
            road=(6, 34),
            lanes=[Lane("upper lane", 19, +1), Lane("lower lane", 33, -1), Lane("bike lane", 42, -1, "bike")],
            bike=(34, 43),
            walkways=[Walkway("plaza", (0, 43, 160, 62), "h", 57),
                      Walkway("south walkway", (0, 100, 160, 116), "h", 110),
                      Walkway("west walkway", (22, 62, 36, 120), "v", 29),
                      Walkway("east walkway", (128, 62, 142, 120), "v", 135)],
            routes=[[(-12, 56), (172, 56)], [(172, 58), (-12, 58)], [(-12, 109), (172, 109)], [(172, 111), (-12, 111)],
                    [(29, 135), (29, 57), (172, 57)], [(135, 135), (135, 55), (-12, 55)],
                    [(-12, 110), (135, 110), (135, 57), (172, 57)]],
            bench=(104, 74, 124, 86), restricted=(52, 70, 98, 95), restricted_name="fountain enclosure",
            trees=[],
            parking=[(11, 97, "N"), (151, 97, "S")], parking_bays=[(1, 79, 21, 99), (143, 79, 159, 99)],
        )
    if name == "park":
        return dict(
            road=(96, 120),
            lanes=[Lane("upper lane", 108, -1), Lane("lower lane", 120, +1), Lane("bike lane", 95, +1, "bike")],
            bike=(87, 96),
            walkways=[Walkway("park path", (0, 58, 160, 70), "h", 66),
                      Walkway("north path", (98, 0, 110, 58), "v", 104)],
            routes=[[(-12, 66), (172, 66)], [(172, 64), (-12, 64)], [(104, -20), (104, 65), (-12, 65)],
                    [(-12, 67), (103, 67), (103, -20)], [(105, -20), (105, 66), (172, 66)]],
            bench=(122, 44, 146, 56), restricted=(12, 18, 58, 50), restricted_name="fenced pond",
            trees=[(80, 20, 10), (145, 20, 9), (70, 82, 7), (20, 80, 8)],
            parking=[(108, 85, "E"), (137, 85, "W")], parking_bays=[(92, 71, 153, 87)],
        )
    if name == "campus":
        return dict(
            road=(6, 32),
            lanes=[Lane("upper lane", 19, -1), Lane("lower lane", 32, +1), Lane("bike lane", 40, +1, "bike")],
            bike=(32, 41),
            walkways=[Walkway("campus walkway", (0, 41, 160, 57), "h", 52),
                      Walkway("west path", (28, 57, 40, 120), "v", 34),
                      Walkway("east path", (118, 57, 130, 120), "v", 124)],
            routes=[[(-12, 51), (172, 51)], [(172, 53), (-12, 53)], [(34, 135), (34, 52), (172, 52)],
                    [(124, 135), (124, 50), (-12, 50)], [(-12, 52), (33, 52), (33, 135)],
                    [(172, 51), (125, 51), (125, 135)]],
            bench=(136, 64, 156, 78), restricted=(56, 70, 104, 112), restricted_name="restricted lawn",
            trees=[(12, 80, 8), (150, 100, 9)],
            parking=[(13, 113, "E"), (48, 104, "N")], parking_bays=[(0, 97, 28, 116), (41, 87, 55, 106)],
        )
    raise KeyError(name)


@functools.lru_cache(maxsize=16)
def make_scene(name: str, width: int, height: int) -> Scene:
    """Scene ``name`` scaled to ``width x height`` (region map + scaled geometry)."""
    lay = _layout(name)
    sx, sy = width / 160.0, height / 120.0

    def R(r):
        return (r[0] * sx, r[1] * sy, r[2] * sx, r[3] * sy)

    regions = np.zeros((height, width), np.uint8)

    def fill(r, val):
        x0, y0, x1, y1 = (int(round(v)) for v in R(r))
        regions[max(y0, 0) : max(y1, 0), max(x0, 0) : max(x1, 0)] = val

    walkways = []
    for w in lay["walkways"]:
        fill(w.rect, REGION_WALKWAY)
        walkways.append(Walkway(w.name, R(w.rect), w.axis, w.line * (sy if w.axis == "h" else sx)))
    fill((0, lay["road"][0], 160, lay["road"][1]), REGION_ROAD)
    fill((0, lay["bike"][0], 160, lay["bike"][1]), REGION_BIKE)
    fill(lay["restricted"], REGION_RESTRICTED)
    fill(lay["bench"], REGION_BENCH)
    for r in lay["parking_bays"]:
        fill(r, REGION_PARKING)
    lanes = [Lane(l.name, l.y * sy, l.direction, l.kind) for l in lay["lanes"]]
    routes = [[(x * sx, y * sy) for x, y in r] for r in lay["routes"]]
    return Scene(
        name=name, width=width, height=height, scale=sy, regions=regions, walkways=walkways, lanes=lanes,
        routes=routes, bench=R(lay["bench"]), restricted=R(lay["restricted"]),
        restricted_name=lay["restricted_name"], road=(lay["road"][0] * sy, lay["road"][1] * sy),
        trees=[(x * sx, y * sy, r * sy) for x, y, r in lay["trees"]],
        parking=[(x * sx, y * sy, h) for x, y, h in lay["parking"]], parking_bays=[R(r) for r in lay["parking_bays"]],
    )


def _smooth_noise(rng, h, w, sigma):
    import cv2

    n = rng.standard_normal((h, w)).astype(np.float32)
    return cv2.GaussianBlur(n, (0, 0), sigma) * sigma


@functools.lru_cache(maxsize=16)
def scene_background(name: str, width: int, height: int) -> np.ndarray:
    """Static textured background ``[H, W, 3]`` float32 in 0..255 (fixed per scene, seed = scene index)."""
    sc = make_scene(name, width, height)
    rng = np.random.default_rng(1000 + SCENE_NAMES.index(name))
    H, W = height, width
    yy, xx = np.mgrid[0:H, 0:W]
    img = np.zeros((H, W, 3), np.float32)
    low = _smooth_noise(rng, H, W, 6 * sc.scale)[..., None]
    speck = rng.standard_normal((H, W, 1)).astype(np.float32)
    reg = sc.regions
    grass = np.array([70, 125, 50], np.float32) + 10 * low + 12 * speck * np.array([0.6, 1.0, 0.5])
    tile = max(int(round(8 * sc.scale)), 3)
    grid = ((xx % tile == 0) | (yy % tile == 0))[..., None]
    pave_col = (182, 172, 152) if name == "plaza" else (150, 150, 146)
    pave = np.array(pave_col, np.float32) + 5 * low + 6 * speck - 28 * grid
    asphalt = np.array([72, 72, 78], np.float32) + 4 * low + 9 * speck
    bike = np.array([150, 78, 70], np.float32) + 4 * low + 7 * speck
    if name == "park":
        inner = np.array([55, 95, 150], np.float32) + 6 * low + 4 * speck  # pond water
    elif name == "plaza":
        inner = np.array([90, 140, 190], np.float32) + 6 * low + 4 * speck  # fountain basin
    elif name == "street":
        inner = np.array([140, 110, 75], np.float32) + 10 * low + 10 * speck  # dug earth
    else:
        inner = np.array([95, 150, 70], np.float32) + 8 * low + 6 * speck  # lawn
    bench_bg = pave
    parking = np.array([88, 88, 92], np.float32) + 4 * low + 8 * speck
    for val, tex in ((REGION_GRASS, grass), (REGION_WALKWAY, pave), (REGION_ROAD, asphalt), (REGION_BIKE, bike),
                     (REGION_RESTRICTED, inner), (REGION_BENCH, bench_bg), (REGION_PARKING, parking)):
        m = reg == val
        img[m] = np.broadcast_to(tex, img.shape)[m]
    # road markings: dashed centre line and solid edge lines
    y0, y1 = sc.road
    yc = int(round((y0 + y1) / 2))
    dash = (xx // max(int(10 * sc.scale), 2)) % 2 == 0
    t = max(int(round(sc.scale)), 1)
    img[(yy >= yc - t // 2 - 0) & (yy < yc + (t + 1) // 2) & dash] = (225, 215, 150)
    for ye in (int(round(y0)) + t, int(round(y1)) - 2 * t):
        if 0 <= ye < H:
            img[ye : ye + t, :] = (210, 210, 205)
    # parking bays: a white line at each spot's sides (side-view spots) or below it (rear/front-view spots)
    for px, py, hd in sc.parking:
        if hd in ("E", "W"):
            for xe in (px - 15 * sc.scale, px + 15 * sc.scale):
                xi = round(xe)
                img[int(py - 13 * sc.scale) : int(py + 2 * sc.scale), max(xi, 0) : xi + t] = (215, 215, 210)
        else:
            yi = round(py + 1.5 * sc.scale)
            img[yi : yi + t, int(px - 8 * sc.scale) : int(px + 8 * sc.scale)] = (215, 215, 210)
    # restricted zone: yellow/black hatched fence
    rx0, ry0, rx1, ry1 = (int(round(v)) for v in sc.restricted)
    b = max(int(round(2 * sc.scale)), 1)
    border = np.zeros((H, W), bool)
    border[ry0:ry1, rx0:rx1] = True
    border[ry0 + b : ry1 - b, rx0 + b : rx1 - b] = False
    hatch = ((xx + yy) // max(int(3 * sc.scale), 2)) % 2 == 0
    img[border & hatch] = (235, 200, 30)
    img[border & ~hatch] = (30, 30, 30)
    # bench: wooden planks with legs
    bx0, by0, bx1, by1 = sc.bench
    px0, px1 = int(bx0 + 0.15 * (bx1 - bx0)), int(bx1 - 0.15 * (bx1 - bx0))
    py = int(by0 + 0.45 * (by1 - by0))
    for k in range(3):
        img[py + k * t : py + k * t + t, px0:px1] = (125 - 12 * k, 80 - 8 * k, 40)
    img[py + 3 * t : py + 6 * t, px0 : px0 + t] = (60, 50, 40)
    img[py + 3 * t : py + 6 * t, px1 - t : px1] = (60, 50, 40)
    # trees: shaded round crowns with a dark rim
    for tx, ty, tr in sc.trees:
        d = np.hypot(xx - tx, yy - ty)
        m = d < tr
        light = np.clip(1.15 - 0.5 * ((xx - tx + yy - ty) / (2 * tr) + 0.5), 0.6, 1.2)
        crown = np.array([40, 95, 35], np.float32)[None, None] * light[..., None] + 8 * low
        img[m] = crown[m]
    return np.clip(img, 0, 255)


# ----------------------------------------------------------------------------------------------
# Sprite templates
# ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Template:
    """``labels`` ``[h, w]`` uint8 part ids (0 = empty, 255 = shadow), ``shade`` ``[h, w]`` float32,
    ``(ax, ay)`` = anchor (bottom-centre of the object on the ground) inside the template."""

    labels: np.ndarray
    shade: np.ndarray
    ax: int
    ay: int
    body: np.ndarray = None  # [h, w] bool silhouette (labels without shadow)
    bbox: tuple = (0, 0, 0, 0)  # silhouette box x1, y1, x2, y2 (exclusive) in template pixels
    shadow: np.ndarray = None  # [h, w, 1] bool ground-shadow pixels
    body_yx: tuple = ()  # (ys, xs) int arrays of silhouette pixels (fast path of the renderer)
    shadow_yx: tuple = ()  # (ys, xs) of shadow pixels


class _Canvas:
    """Small drawing canvas with y-up local coordinates around an anchor (foot point)."""

    def __init__(self, w: int, h: int, ax: float, ay: float):
        self.lab = np.zeros((h, w), np.uint8)
        self.ax, self.ay = ax, ay
        yy, xx = np.mgrid[0:h, 0:w]
        self.px = xx + 0.5 - ax  # local x of pixel centres
        self.py = ay - (yy + 0.5)  # local y (up)

    def capsule(self, p0, p1, r, val):
        (x0, y0), (x1, y1) = p0, p1
        dx, dy = x1 - x0, y1 - y0
        L2 = dx * dx + dy * dy
        if L2 < 1e-9:
            t = np.zeros_like(self.px)
        else:
            t = np.clip(((self.px - x0) * dx + (self.py - y0) * dy) / L2, 0, 1)
        d = np.hypot(self.px - (x0 + t * dx), self.py - (y0 + t * dy))
        self.lab[d <= r] = val

    def ellipse(self, c, rx, ry, val, mask_only=False):
        m = ((self.px - c[0]) / rx) ** 2 + ((self.py - c[1]) / ry) ** 2 <= 1.0
        if not mask_only:
            self.lab[m] = val
        return m

    def rect(self, x0, y0, x1, y1, val):
        m = (self.px >= x0) & (self.px <= x1) & (self.py >= y0) & (self.py <= y1)
        self.lab[m] = val
        return m

    def ring(self, c, r, width, val):
        d = np.hypot(self.px - c[0], self.py - c[1])
        self.lab[np.abs(d - r) <= width] = val


def _finish(cv: _Canvas, key, shadow: tuple[float, float] | None) -> Template:
    lab = cv.lab
    if shadow is not None:  # soft ground shadow ellipse (not part of the object silhouette)
        m = ((cv.px / shadow[0]) ** 2 + ((cv.py + 0.3) / shadow[1]) ** 2 <= 1.0) & (lab == 0)
        lab[m] = SHADOW
    ys, xs = np.nonzero(lab)
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    lab = lab[y0:y1, x0:x1].copy()
    h, w = lab.shape
    rng = np.random.default_rng(zlib.crc32(repr(key).encode()))  # not hash(): salted per process
    xx = np.arange(w, dtype=np.float32)[None, :] / max(w - 1, 1)
    yy = np.arange(h, dtype=np.float32)[:, None] / max(h - 1, 1)
    shade = 1.12 - 0.22 * xx - 0.12 * yy + rng.uniform(-0.06, 0.06, (h, w)).astype(np.float32)
    shade[lab == SHADOW] = 0.72
    body = (lab > 0) & (lab != SHADOW)
    bys, bxs = np.nonzero(body)
    bbox = (int(bxs.min()), int(bys.min()), int(bxs.max()) + 1, int(bys.max()) + 1)
    return Template(lab, shade.astype(np.float32), int(round(cv.ax)) - x0, int(round(cv.ay)) - y0, body, bbox,
                    (lab == SHADOW)[..., None], (bys, bxs), tuple(np.nonzero(lab == SHADOW)))


def _limb(root, length: float, angle: float, f: int):
    """End point of a segment of ``length`` from ``root`` at ``angle`` rad from straight down, positive
    towards the facing side ``f`` (so 1.57 is straight forward and 3.14 straight up)."""
    return (root[0] + length * math.sin(angle) * f, root[1] - length * math.cos(angle))


def person_joints(hp: float, pose: str, phase: float, facing: int) -> dict:
    """Joint positions of a person of height ``hp`` in local coordinates (feet at ``(0, 0)``, ``y`` up).

    Returns ``{"hip", "neck", "head", "legs": [(hip, knee, foot), ...], "arms": [(shoulder, elbow, hand),
    ...]}``. The poses, and the single-frame signature each one is for:

    * ``walk``: straight legs swinging +-0.45 rad, arms swinging opposite; upright.
    * ``run``: a sprinter's stride, so one frame tells running from walking: torso leaning forward by 0.2
      ``hp`` at the neck, thighs swinging +-0.75 rad with the swinging leg's knee folded (the foot tucked up
      behind), arms bent about 90 degrees at the elbow and pumping opposite to the legs.
    * ``fight``: a boxer's stance facing the opponent: wide legs, both fists raised above the shoulders,
      one arm punching straight forward while the other guards the face (they swap with the phase).
    * ``grab``: leaning in with one arm reaching straight forward (the snatch).
    * ``alarm``: both arms thrown up above the head (a robbed victim).
    * ``bend``: stopped and bent forward at the hips by 70 degrees with the arms hanging to the ground
      (picking something up, tying a shoe): a normal pose that in one frame looks like a fall half-way.
    * ``sit``: seated on the bench (thighs forward, shins down).
    * ``stand`` (and anything else): upright, arms by the sides.
    """
    f = facing
    th = 2 * math.pi * phase
    s = math.sin(th)
    L = 0.47 * hp
    hip = (0.0, 0.47 * hp)
    neck = (0.0, 0.80 * hp)
    legs, arms = [], []

    def straight_leg(a, root=None):
        r = hip if root is None else root
        return (r, _limb(r, L / 2, a, f), _limb(r, L, a, f))

    if pose == "run":
        thighs = [0.75 * math.sin(th), 0.75 * math.sin(th + math.pi)]
        folds = [0.35 + 1.3 * max(0.0, math.cos(th)), 0.35 + 1.3 * max(0.0, math.cos(th + math.pi))]
        drops = [0.5 * L * (math.cos(a) + math.cos(a - b)) for a, b in zip(thighs, folds)]
        hip = (0.0, max(drops))  # the lowest foot stays on the ground: the body bobs with the stride
        for a, b in zip(thighs, folds):
            knee = _limb(hip, L / 2, a, f)
            legs.append((hip, knee, _limb(knee, L / 2, a - b, f)))
        neck = (0.2 * hp * f, hip[1] + 0.31 * hp)
    elif pose == "sit":
        hip = (0.0, 0.30 * hp)
        neck = (0.0, 0.63 * hp)
        knee = (0.22 * hp * f, 0.30 * hp)
        for dx in (-0.02 * hp, 0.02 * hp):
            legs.append(((hip[0] + dx, hip[1]), (knee[0] + dx, knee[1]), (knee[0] + dx, 0.03 * hp)))
    elif pose == "bend":
        hip = (-0.07 * hp * f, 0.45 * hp)
        for a in (0.12, -0.08):  # feet under the hips, knees slightly bent
            knee = _limb(hip, L / 2, a + 0.15, f)
            legs.append((hip, knee, (hip[0] + L * math.sin(a) * f, 0.0)))
        neck = _limb(hip, 0.33 * hp, math.pi - math.radians(70), f)
    else:
        if pose == "fight":
            angles = (0.3, -0.3)
        elif pose == "walk":
            angles = (0.45 * s, -0.45 * s)
        else:
            angles = (0.08, -0.08)
        legs = [straight_leg(a) for a in angles]
        lean = {"fight": 0.08, "grab": 0.10}.get(pose, 0.0) * hp * f
        neck = (lean, 0.80 * hp)
    # head: continues the torso line (hanging forward and down when bent)
    tx, ty = neck[0] - hip[0], neck[1] - hip[1]
    tl = math.hypot(tx, ty)
    if pose == "bend":
        head = (neck[0] + 0.11 * hp * f, neck[1] - 0.01 * hp)
    else:
        head = (neck[0] + 0.12 * hp * tx / tl + 0.02 * hp * f, neck[1] + 0.12 * hp * ty / tl)
    sh = (neck[0] - 0.05 * hp * tx / tl, neck[1] - 0.05 * hp * ty / tl)
    la = 0.33 * hp
    if pose == "run":  # bent arms pumping opposite to the legs: upper arm +-0.9 rad, forearm 1.5 rad further
        for u in (-0.9 * s, 0.9 * s):
            elbow = _limb(sh, 0.17 * hp, u, f)
            arms.append((sh, elbow, _limb(elbow, 0.15 * hp, u + 1.5, f)))
    elif pose == "fight":  # punch (straight, above shoulder height) and guard (forearm up in front of the face)
        punch = (sh, _limb(sh, la / 2, 1.95, f), _limb(sh, la, 1.95, f))
        e = _limb(sh, 0.17 * hp, 1.45, f)
        guard = (sh, e, _limb(e, 0.16 * hp, 3.0, f))
        arms = [punch, guard] if s > 0 else [guard, punch]
    elif pose == "bend":  # hanging straight down to the ground in front of the feet
        arms = [(sh, _limb(sh, la / 2, a, f), _limb(sh, la, a, f)) for a in (0.15, -0.1)]
    else:
        if pose == "walk":
            arm_angles = (-0.36 * s, 0.36 * s)
        elif pose == "grab":
            arm_angles = (1.5, 0.3)
        elif pose == "alarm":
            arm_angles = (2.75, -2.75)  # a V over the head
        elif pose == "sit":
            arm_angles = (0.5, 0.4)
        else:
            arm_angles = (0.12, -0.12)
        arms = [(sh, _limb(sh, la / 2, a, f), _limb(sh, la, a, f)) for a in arm_angles]
    return {"hip": hip, "neck": neck, "head": head, "legs": legs, "arms": arms}


def _skeleton(cv: _Canvas, hp: float, pose: str, phase: float, facing: int, carry: bool) -> None:
    """Draw a person (feet at local (0, 0), height ``hp``) in ``pose`` at walk/run ``phase`` in [0, 1)
    (joints: :func:`person_joints`); ``carry``: a bag hangs from one hand."""
    f = facing
    j = person_joints(hp, pose, phase, facing)
    for hip, knee, foot in j["legs"]:
        cv.capsule(hip, knee, 0.07 * hp, TROUSERS)
        cv.capsule(knee, foot, 0.065 * hp, TROUSERS)
        if pose == "sit":
            cv.capsule((foot[0] + 0.03 * hp * f, 0.02 * hp), (foot[0] + 0.07 * hp * f, 0.02 * hp), 0.045 * hp, SHOES)
        else:
            cv.capsule(foot, (foot[0] + 0.06 * hp * f, foot[1] + 0.01 * hp), 0.045 * hp, SHOES)
    cv.capsule(j["hip"], j["neck"], 0.12 * hp, SHIRT)  # torso
    head = j["head"]
    cv.ellipse(head, 0.085 * hp, 0.095 * hp, SKIN)
    up = (j["neck"][0] - j["hip"][0], j["neck"][1] - j["hip"][1])
    n = math.hypot(*up)
    # hair on the crown: the head's far side along the torso line
    hair = cv.ellipse(head, 0.09 * hp, 0.10 * hp, 0, mask_only=True) & (
        (cv.px - head[0]) * up[0] / n + (cv.py - head[1]) * up[1] / n > 0.02 * hp)
    cv.lab[hair] = HAIR
    hands = []
    for shoulder, elbow, hand in j["arms"]:
        cv.capsule(shoulder, elbow, 0.05 * hp, SHIRT)
        cv.capsule(elbow, hand, 0.05 * hp, SHIRT)
        cv.ellipse(hand, 0.055 * hp, 0.055 * hp, SKIN)
        hands.append(hand)
    if carry:  # a bag hanging from the back hand (the front hand while snatching or fleeing with it)
        hx, hy = hands[0] if pose in ("run", "grab") else hands[1]
        cv.rect(hx - 0.12 * hp, max(hy - 0.26 * hp, 0.0), hx + 0.12 * hp, max(hy - 0.03 * hp, 0.2 * hp), ITEM)
        cv.capsule((hx - 0.06 * hp, hy - 0.02 * hp), (hx + 0.06 * hp, hy - 0.02 * hp), 0.02 * hp, ITEM)


@functools.lru_cache(maxsize=4096)
def person_template(pose: str, phase_q: int, facing: int, rot_q: int, carry: bool, scale: float) -> Template:
    """Person sprite. ``phase_q`` in 0..7 (walk cycle), ``rot_q`` fall angle in 15-degree steps
    (0 = upright, 6 = lying, head towards ``facing``)."""
    import cv2

    hp = 18.0 * scale
    size = int(math.ceil(2.4 * hp))
    cv = _Canvas(size, size, size / 2, size / 2)
    _skeleton(cv, hp, pose, phase_q / 8.0, facing, carry)
    if rot_q:
        ang = -facing * 15.0 * rot_q  # falls forward: rotate about the feet (clockwise for facing right)
        M = cv2.getRotationMatrix2D((size / 2, size / 2), ang, 1.0)
        cv.lab = cv2.warpAffine(cv.lab, M, (size, size), flags=cv2.INTER_NEAREST)
        # keep the anchor on the ground: shift so the lowest body pixel sits on the anchor row
        ys = np.nonzero(cv.lab)[0]
        shift = int(size / 2) - 1 - ys.max()
        cv.lab = np.roll(cv.lab, shift, axis=0)
    return _finish(cv, ("person", pose, phase_q, facing, rot_q, carry, scale), (0.28 * hp if not rot_q else 0.55 * hp, 0.06 * hp))


def _crumple(cv: _Canvas, end: float, out: int, L: float, s: float) -> None:
    """Crush the car end at local x ``end`` (``out`` = +1 if the end faces +x): a jagged cut 1.5-3.5 px deep
    (the car gets shorter there), dark crumpled metal behind it over a fifth of the length, the lamp gone,
    and the bonnet/boot panel buckled up into a ridge."""
    depth = end - out * (1.5 + 2.0 * np.abs(((cv.py / s) % 3.0) / 1.5 - 1.0)) * s  # sawtooth outline
    beyond = (cv.px - depth) * out > 0
    car = (cv.lab > 0)
    cv.lab[car & beyond] = 0
    zone = car & ~beyond & ((cv.px - (end - out * 0.22 * L)) * out > 0) & (cv.lab != TYRE) & (cv.lab != HUB)
    cv.lab[zone & ((cv.lab == BODY) | (cv.lab == HEADLIGHT) | (cv.lab == TAILLIGHT) | (cv.lab == WINDOW))] = DAMAGE
    ridge_a, ridge_b = (end - out * 0.30 * L, 7.4 * s), (end - out * 0.14 * L, 9.6 * s)
    cv.capsule(ridge_a, ridge_b, 0.8 * s, DAMAGE)
    cv.capsule(ridge_b, (end - out * 0.06 * L, 7.6 * s), 0.8 * s, DAMAGE)


@functools.lru_cache(maxsize=1024)
def car_template(heading: str, scale: float, tilt: int = 0, damage: str = "") -> Template:
    """Car sprite for heading ``'E'`` / ``'W'`` (side view), ``'N'`` (rear view) or ``'S'`` (front view).

    A collided car (side views only) is drawn ``damage`` = ``"front"`` or ``"rear"``: that end crumpled (a
    jagged, shortened outline in dark crumpled metal, :data:`DAMAGE`; the head- or tail-light gone, the
    bonnet or boot buckled up) and stopped askew, rotated ``tilt`` degrees (positive: nose up) about its
    ground point and put back on the ground, so its box is taller than an upright car's. Both are shapes,
    not tints, so one frame shows the crash.
    """
    import cv2

    s = scale
    if heading in ("E", "W"):
        L, Hc = 26 * s, 13 * s
        if tilt:  # room for the rotated car: the ends rise or sink by up to L/2 sin(tilt)
            size = math.ceil(L + 8)
            cv = _Canvas(size, size, size / 2, size / 2 + Hc / 2)
        else:
            cv = _Canvas(int(L + 4), int(Hc + 4), (L + 4) / 2, Hc + 2)
        f = 1 if heading == "E" else -1
        x0, x1 = -L / 2, L / 2
        cv.rect(x0, 1.8 * s, x1, 7.6 * s, BODY)
        cv.capsule((x0 + 1.5 * s, 4.7 * s), (x1 - 1.5 * s, 4.7 * s), 2.9 * s, BODY)
        # cabin: trapezoid approximated by stacked rects, shifted slightly to the rear
        cab_c = -0.06 * L * f
        for k, yk in enumerate(np.linspace(7.6 * s, 12.5 * s, 5)):
            half = (0.25 * L) - k * 0.035 * L
            cv.rect(cab_c - half, yk - 1.3 * s, cab_c + half, yk, BODY)
        wm = cv.rect(cab_c - 0.2 * L, 8.3 * s, cab_c + 0.2 * L, 11.3 * s, WINDOW)
        cv.lab[wm & (np.abs(cv.px - cab_c) < 0.5 * s)] = BODY  # B-pillar
        for cx in (x0 + 0.2 * L, x1 - 0.2 * L):
            cv.ellipse((cx, 2.3 * s), 2.4 * s, 2.4 * s, TYRE)
            cv.ellipse((cx, 2.3 * s), 1.0 * s, 1.0 * s, HUB)
        front, back = (x1, x0) if f > 0 else (x0, x1)
        cv.rect(min(front, front - 1.6 * s * f), 5.0 * s, max(front, front - 1.6 * s * f), 6.6 * s, HEADLIGHT)
        cv.rect(min(back, back + 1.2 * s * f), 5.0 * s, max(back, back + 1.2 * s * f), 6.6 * s, TAILLIGHT)
        if damage:
            _crumple(cv, front if damage == "front" else back, f if damage == "front" else -f, L, s)
        if tilt:
            M = cv2.getRotationMatrix2D((cv.ax, cv.ay), float(tilt * f), 1.0)
            h, w = cv.lab.shape
            cv.lab = cv2.warpAffine(cv.lab, M, (w, h), flags=cv2.INTER_NEAREST)
            ys = np.nonzero(cv.lab)[0]  # back on the ground: the lowest pixel on the anchor row
            cv.lab = np.roll(cv.lab, round(cv.ay) - 1 - ys.max(), axis=0)
        return _finish(cv, ("car", heading, scale, tilt, damage), (0.55 * L, 1.2 * s))
    if tilt or damage:
        raise ValueError("car_template: tilt and damage are drawn for the side views ('E', 'W') only")
    Wc, Hc = 14 * s, 14 * s
    cv = _Canvas(int(Wc + 4), int(Hc + 4), (Wc + 4) / 2, Hc + 2)
    x0, x1 = -Wc / 2, Wc / 2
    cv.rect(x0 + 0.5 * s, 0, x0 + 2.8 * s, 2.8 * s, TYRE)
    cv.rect(x1 - 2.8 * s, 0, x1 - 0.5 * s, 2.8 * s, TYRE)
    cv.rect(x0, 2.0 * s, x1, 8.5 * s, BODY)
    cv.rect(x0 + 1.8 * s, 8.5 * s, x1 - 1.8 * s, 13.2 * s, BODY)
    cv.rect(x0 + 2.6 * s, 9.0 * s, x1 - 2.6 * s, 12.4 * s, WINDOW)
    light = TAILLIGHT if heading == "N" else HEADLIGHT
    cv.rect(x0 + 0.6 * s, 5.6 * s, x0 + 3.0 * s, 7.2 * s, light)
    cv.rect(x1 - 3.0 * s, 5.6 * s, x1 - 0.6 * s, 7.2 * s, light)
    cv.rect(-2.0 * s, 3.0 * s, 2.0 * s, 4.6 * s, PLATE)
    return _finish(cv, ("car", heading, scale), (0.6 * Wc, 1.2 * s))


@functools.lru_cache(maxsize=512)
def bicycle_template(phase_q: int, facing: int, scale: float) -> Template:
    """Bicycle with rider, side view; ``phase_q`` 0..7 is the pedal angle."""
    s = scale
    hp = 18.0 * s
    cv = _Canvas(int(20 * s + 4), int(24 * s + 4), (20 * s + 4) / 2, 24 * s + 2)
    f = facing
    r = 3.3 * s
    rear, front = (-5.6 * s * f, r), (5.6 * s * f, r)
    for c in (rear, front):
        cv.ring(c, r - 0.4 * s, 0.65 * s, TYRE)
        cv.ellipse(c, 0.6 * s, 0.6 * s, HUB)
    bb = (0.0, r)
    seat = (-1.8 * s * f, 8.6 * s)
    head = (3.9 * s * f, 9.0 * s)
    for a, b in ((rear, bb), (bb, seat), (seat, rear), (seat, head), (head, bb), (head, front)):
        cv.capsule(a, b, 0.45 * s, FRAME)
    cv.capsule(head, (3.3 * s * f, 10.6 * s), 0.45 * s, FRAME)
    ang = 2 * math.pi * phase_q / 8.0
    hip = (seat[0], seat[1] + 1.0 * s)
    for k in (0, math.pi):
        pedal = (bb[0] + 1.9 * s * math.cos(ang + k), bb[1] + 1.9 * s * math.sin(ang + k))
        knee = ((hip[0] + pedal[0]) / 2 + 1.6 * s * f, (hip[1] + pedal[1]) / 2 + 1.0 * s)
        cv.capsule(hip, knee, 0.065 * hp, TROUSERS)
        cv.capsule(knee, pedal, 0.06 * hp, TROUSERS)
        cv.ellipse(pedal, 0.05 * hp, 0.04 * hp, SHOES)
    neck = (hip[0] + 2.6 * s * f, hip[1] + 0.30 * hp)
    cv.capsule(hip, neck, 0.12 * hp, SHIRT)
    hc = (neck[0] + 0.05 * hp * f, neck[1] + 0.12 * hp)
    cv.ellipse(hc, 0.085 * hp, 0.095 * hp, SKIN)
    hair = cv.ellipse(hc, 0.09 * hp, 0.10 * hp, 0, mask_only=True) & (cv.py > hc[1] + 0.02 * hp)
    cv.lab[hair] = HAIR
    grip = (3.3 * s * f, 10.6 * s)
    cv.capsule((neck[0], neck[1] - 0.05 * hp), grip, 0.05 * hp, SHIRT)
    cv.ellipse(grip, 0.05 * hp, 0.05 * hp, SKIN)
    return _finish(cv, ("bike", phase_q, facing, scale), (8.0 * s, 1.0 * s))
