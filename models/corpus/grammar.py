"""A grammar of voice-assistant requests, sampled deterministically by seed.

`sentences(n, rng)` draws n requests (duplicates allowed). `sentence_split(text)` assigns each
distinct sentence to "train" or "heldout" by a stable hash, so held-out test sentences are never
spoken in training. `rare_name_sentences` uses only `RARE_CONTACT_NAMES`. `contact_slots` draws
the same requests as `sentences` and says which words name a contact (for the class-based LM).
Text is lower case over `ALPHABET`: numbers and times are spelled out as spoken.
"""

import functools
import hashlib

import numpy as np

from . import lexicon as lx

ALPHABET = " '" + "abcdefghijklmnopqrstuvwxyz"   # index 0 of the model's vocabulary is blank


def _pick(rng, items):
    return items[int(rng.integers(len(items)))]


def _time(rng) -> str:
    h = int(rng.integers(1, 13))
    m = _pick(rng, [0, 0, 0, 15, 30, 45, 5, 10, 20, 25, 40, 50])
    ampm = _pick(rng, ["", " a m", " p m", " in the morning", " in the evening", ""])
    if m == 0:
        core = lx.number_words(h) + _pick(rng, [" o'clock", "", ""])
    elif m < 10:
        core = lx.number_words(h) + " oh " + lx.number_words(m)
    else:
        core = lx.number_words(h) + " " + lx.number_words(m)
    if rng.random() < 0.15:
        core = _pick(rng, ["noon", "midnight", "half past " + lx.number_words(h),
                           "quarter past " + lx.number_words(h), "quarter to " + lx.number_words(h)])
        ampm = ""
    return core + ampm


def _duration(rng) -> str:
    unit = _pick(rng, ["minutes", "minutes", "seconds", "hours"])
    n = int(rng.integers(2, 60 if unit != "hours" else 12))
    if rng.random() < 0.1:
        return _pick(rng, ["one minute", "one hour", "half an hour", "an hour and a half",
                           "ninety seconds", "a minute and a half"])
    return f"{lx.number_words(n)} {unit}"


def _contact(rng, names) -> str:
    r = rng.random()
    if r < 0.15:
        return _pick(rng, lx.FAMILY)
    if r < 0.35:
        return _pick(rng, names) + " " + _pick(rng, lx.SURNAMES)
    return _pick(rng, names)


def _comms(rng, names):
    c = _contact(rng, names)
    return _pick(rng, [
        f"call {c}", f"call {c} on speaker", f"please call {c}", f"dial {c}",
        f"video call {c}", f"ring {c}", f"call {c} on their mobile", f"call {c} at work",
        f"send a message to {c}", f"text {c} {_pick(rng, lx.MESSAGES)}",
        f"tell {c} {_pick(rng, lx.MESSAGES)}", f"message {c} saying {_pick(rng, lx.MESSAGES)}",
        f"send {c} a text", f"read my messages from {c}", f"email {c}",
        f"when did {c} call", f"what's {c}'s number", f"remind me to call {c} {_pick(rng, lx.DAYS)}",
        f"send {c} my location", f"share this with {c}", f"call {c} back",
    ])


def _home(rng):
    d, room = _pick(rng, lx.DEVICES), _pick(rng, lx.ROOMS)
    pct = lx.number_words(int(rng.integers(1, 21)) * 5)
    deg = lx.number_words(int(rng.integers(16, 30)) if rng.random() < 0.5 else int(rng.integers(60, 80)))
    return _pick(rng, [
        f"turn on the {room} {d}", f"turn off the {room} {d}", f"turn the {d} on",
        f"turn the {d} off in the {room}", f"switch on the {d}", f"switch off the {room} {d}",
        f"dim the {room} lights to {pct} percent", f"set the {room} lights to {pct} percent",
        f"brighten the {room} lights", f"make the {room} lights {_pick(rng, lx.COLORS)}",
        f"set the thermostat to {deg} degrees", f"set the {room} temperature to {deg}",
        f"turn the heat up to {deg}", f"make it warmer in the {room}", f"make it cooler",
        f"lower the temperature by {lx.number_words(int(rng.integers(1, 6)))} degrees",
        f"is the {room} {d} on", f"lock the front door", f"unlock the back door",
        f"open the {room} blinds", f"close the {d}", f"start the {d}", f"stop the {d}",
        f"set the fan speed to {lx.number_words(int(rng.integers(1, 6)))}",
        f"turn everything off in the {room}", f"good night turn off all the lights",
        f"set the volume to {lx.number_words(int(rng.integers(1, 11)))}",
    ])


def _music(rng):
    a, g, p = _pick(rng, lx.ARTISTS), _pick(rng, lx.GENRES), _pick(rng, lx.PLAYLISTS)
    room = _pick(rng, lx.ROOMS)
    return _pick(rng, [
        f"play {a}", f"play some {g}", f"play some {g} music", f"play music by {a}",
        f"play my {p} playlist", f"shuffle my {p} playlist", f"play the {p} playlist in the {room}",
        f"play {g} in the {room}", f"play something by {a}", f"play the latest album by {a}",
        f"add this song to my {p} playlist", f"play {_pick(rng, lx.RADIO)}",
        f"play {a} on the {room} speaker", f"i want to hear some {g}", f"put on some {g}",
        f"play songs like {a}", f"who is {a}", f"play {g} radio",
    ])


def _timers(rng):
    t, dur, day = _time(rng), _duration(rng), _pick(rng, lx.DAYS)
    return _pick(rng, [
        f"set a timer for {dur}", f"set a {dur} timer", f"timer {dur}",
        f"set an alarm for {t}", f"wake me up at {t}", f"set an alarm for {t} {day}",
        f"wake me up {day} at {t}", f"remind me in {dur} to check the oven",
        f"how much time is left on the timer", f"cancel the timer", f"cancel my alarm for {t}",
        f"snooze for {dur}", f"add {dur} to the timer", f"set a pasta timer for {dur}",
        f"remind me at {t} to take my medicine", f"what alarms do i have",
        f"delete all alarms", f"set a recurring alarm for {t} on weekdays",
    ])


def _weather(rng):
    c, day = _pick(rng, lx.CITIES), _pick(rng, lx.DAYS)
    return _pick(rng, [
        f"what's the weather in {c}", f"what's the weather like {day}",
        f"will it rain in {c} {day}", f"how cold is it in {c}", f"is it sunny in {c}",
        f"what's the forecast for {day}", f"weather in {c} {day}", f"do i need an umbrella {day}",
        f"what's the temperature in {c}", f"is it going to snow {day}",
        f"how hot will it be in {c} {day}", f"what time is it in {c}",
    ])


def _calendar(rng, names):
    e, day, t = _pick(rng, lx.EVENTS), _pick(rng, lx.DAYS), _time(rng)
    date = f"{_pick(rng, lx.MONTHS)} {_pick(rng, lx.ORDINALS)}"
    return _pick(rng, [
        f"add a {e} {day} at {t}", f"schedule a {e} with {_contact(rng, names)} {day}",
        f"what's on my calendar {day}", f"when is my {e}", f"move my {e} to {t}",
        f"cancel my {e} {day}", f"create an event called {e} on {date}",
        f"what do i have on {date}", f"am i free {day} at {t}", f"remind me about the {e}",
        f"when is {_contact(rng, names)}'s birthday", f"what day is {date}",
        f"book a {e} for {date} at {t}",
    ])


def _shopping(rng):
    items = [_pick(rng, lx.SHOPPING) for _ in range(int(rng.integers(1, 4)))]
    items = list(dict.fromkeys(items))
    joined = items[0] if len(items) == 1 else ", ".join(items[:-1]).replace(",", "") + " and " + items[-1]
    return _pick(rng, [
        f"add {joined} to my shopping list", f"put {joined} on the list", f"add {joined}",
        f"remove {items[0]} from my shopping list", f"do i need {items[0]}",
        f"what's on my shopping list", f"clear my shopping list", f"order more {items[0]}",
        f"i need {joined}", f"add {lx.number_words(int(rng.integers(2, 13)))} {items[0]} to my list",
    ])


_TOPICS = [(_comms, 0.2), (_home, 0.2), (_music, 0.14), (_timers, 0.14), (_weather, 0.09),
           (_calendar, 0.09), (_shopping, 0.08), ("question", 0.04), ("short", 0.02)]


def sentence(rng, names=lx.CONTACT_NAMES) -> str:
    """One request; `names` are the contacts it may use."""
    w = np.array([p for _, p in _TOPICS])
    f = _TOPICS[int(rng.choice(len(_TOPICS), p=w / w.sum()))][0]
    if f == "question":
        s = _pick(rng, lx.QUESTIONS)
    elif f == "short":
        s = _pick(rng, lx.SHORT_COMMANDS)
    elif f in (_comms, _calendar):
        s = f(rng, names)
    else:
        s = f(rng)
    if rng.random() < 0.06:
        s = _pick(rng, ["hey computer ", "please ", "okay ", "could you ", "can you "]) + s
    return normalize(s)


def normalize(text: str) -> str:
    """Lower case, only ALPHABET characters, single spaces."""
    text = text.lower().replace(",", " ").replace("-", " ")
    text = "".join(ch for ch in text if ch in ALPHABET)
    return " ".join(text.split())


def sentence_split(text: str, heldout_fraction: float = 0.1) -> str:
    """"train" or "heldout", stable across runs and machines (hash of the text)."""
    h = int.from_bytes(hashlib.sha1(text.encode()).digest()[:4], "big")
    return "heldout" if h / 2**32 < heldout_fraction else "train"


def sentences(n: int, rng, split: str = "train") -> list[str]:
    """n requests whose `sentence_split` is `split`. Short commands and questions are a small
    closed set, so they may appear in both splits; the split applies to everything else."""
    out = []
    while len(out) < n:
        s = sentence(rng)
        if _in_split(s, split):
            out.append(s)
    return out


def _in_split(text: str, split: str) -> bool:
    """Whether `sentences(..., split)` keeps this request (short ones are in both splits)."""
    return len(text.split()) <= 3 or sentence_split(text) == split


def _slot_marker(i: int) -> str:
    """A letters-only word that stands for contact i and cannot occur in a request."""
    return "zqx" + chr(ord("a") + i // 26 % 26) + chr(ord("a") + i % 26) + "x" * (i // 676) + "xqz"


def contact_slots(n: int, rng, split: str = "train") -> list[tuple[str, frozenset[int]]]:
    """What `sentences(n, rng, split)` draws (the same requests for the same rng), each with the
    indices of its words that name a contact ("mary" in "call mary smith", "mary's" in "what's
    mary's number"); a name that is also an artist or a city ("bob dylan", "austin") is no slot.
    Each request is drawn twice from the same generator state, the second time with every contact
    name replaced by a marker word: the grammar's choices are by index, so the two agree word for word."""
    names = list(lx.CONTACT_NAMES)
    marked_names = [_slot_marker(i) for i in range(len(names))]
    markers = set(marked_names)
    out = []
    while len(out) < n:
        twin = np.random.default_rng()
        twin.bit_generator.state = rng.bit_generator.state
        s = sentence(rng, names)
        marked = sentence(twin, marked_names).split()
        words = s.split()
        assert len(marked) == len(words), (s, marked)
        if _in_split(s, split):
            out.append((s, frozenset(i for i, w in enumerate(marked) if w.removesuffix("'s") in markers)))
    return out


def rare_name_sentences(n: int, rng) -> list[str]:
    """Requests that each name a contact from `RARE_CONTACT_NAMES` (context-biasing tests)."""
    out = []
    while len(out) < n:
        f = _comms if rng.random() < 0.8 else _calendar
        s = normalize(f(rng, lx.RARE_CONTACT_NAMES))
        if any(name in s.split() for name in lx.RARE_CONTACT_NAMES):
            out.append(s)
    return out


@functools.lru_cache(maxsize=1)
def vocabulary() -> frozenset[str]:
    """Every word the grammar can produce (estimated by sampling; a few seconds, once per process)."""
    rng = np.random.default_rng(0)
    words = set()
    for _ in range(30000):
        words.update(sentence(rng).split())
    return frozenset(words)
