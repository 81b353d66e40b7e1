"""Local text-to-speech engines, each returning float32 16 kHz mono waveforms.

Training voices: espeak-ng English dialects with voice variants (never the mbrola `mb-*` voices)
and festival's kal_diphone and cmu_us_slt_arctic_hts. Held-out test voices: flite kal16, awb,
rms and slt (never `awb_time`, a clock-only voice, nor the 8 kHz `kal`).
A `Voice` is data (engine, name, rate and pitch settings), so a manifest records exactly who spoke.
"""

import dataclasses
import os
import subprocess
import tempfile

import numpy as np
import scipy.signal
import soundfile

SAMPLE_RATE_HZ = 16000

ESPEAK_DIALECTS = ["en-us", "en-gb", "en-gb-scotland", "en-gb-x-gbclan", "en-gb-x-rp",
                   "en-gb-x-gbcwmd", "en-029", "en-us-nyc"]
ESPEAK_VARIANTS = ["", "m1", "m2", "m3", "m4", "m5", "m6", "m7", "f1", "f2", "f3", "f4", "f5",
                   "klatt", "klatt2", "klatt3", "adam", "alex", "andy", "annie", "david", "ed",
                   "iven", "john", "linda", "max", "michael", "paul", "rob", "robert", "steph",
                   "zac", "belinda", "benjamin", "caleb", "edward", "grandpa", "quincy"]
FESTIVAL_VOICES = ["kal_diphone", "cmu_us_slt_arctic_hts"]
FLITE_VOICES = ["kal16", "awb", "rms", "slt"]
TRAIN_ENGINES = ("espeak", "festival")
TEST_ENGINES = ("flite",)


class TtsError(RuntimeError):
    pass


@dataclasses.dataclass(frozen=True)
class Voice:
    engine: str          # "espeak", "festival" or "flite"
    name: str            # dialect[+variant] for espeak, voice name otherwise
    words_per_min: int = 0   # espeak only
    pitch: int = 0           # espeak only, 0..99

    @property
    def label(self) -> str:
        return f"{self.engine}:{self.name}" + (f":s{self.words_per_min}p{self.pitch}"
                                                if self.engine == "espeak" else "")


def random_voice(rng, engines=TRAIN_ENGINES, weights=None) -> Voice:
    """A voice from `engines`; espeak gets a random dialect, variant, rate and pitch."""
    weights = weights or {"espeak": 0.5, "festival": 0.5, "flite": 1.0}
    w = np.array([weights[e] for e in engines])
    engine = engines[int(rng.choice(len(engines), p=w / w.sum()))]
    if engine == "espeak":
        d = ESPEAK_DIALECTS[int(rng.integers(len(ESPEAK_DIALECTS)))]
        v = ESPEAK_VARIANTS[int(rng.integers(len(ESPEAK_VARIANTS)))]
        return Voice("espeak", d + ("+" + v if v else ""), int(rng.integers(130, 200)),
                     int(rng.integers(25, 75)))
    names = FESTIVAL_VOICES if engine == "festival" else FLITE_VOICES
    return Voice(engine, names[int(rng.integers(len(names)))])


def _load(path: str) -> np.ndarray:
    x, sr = soundfile.read(path, dtype="float32", always_2d=True)
    x = x.mean(axis=1)
    if sr != SAMPLE_RATE_HZ:
        g = np.gcd(sr, SAMPLE_RATE_HZ)
        x = scipy.signal.resample_poly(x, SAMPLE_RATE_HZ // g, sr // g).astype(np.float32)
    if x.size == 0:
        raise TtsError(f"{path}: empty waveform")
    return x


def _run(cmd: list[str]):
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise TtsError(f"{' '.join(cmd[:3])}...: exit {r.returncode}: {r.stderr[-300:]}")


def synthesize(items: list[tuple[str, Voice]]) -> list[np.ndarray]:
    """Waveforms for (text, voice) pairs, in order. Festival items are batched per voice in one
    `festival -b` process (its start-up costs ~0.2 s)."""
    out: list[np.ndarray | None] = [None] * len(items)
    with tempfile.TemporaryDirectory(prefix="edgeasr_tts_") as tmp:
        fest: dict[str, list[int]] = {}
        for i, (text, voice) in enumerate(items):
            path = os.path.join(tmp, f"{i}.wav")
            if voice.engine == "espeak":
                _run(["espeak-ng", "-v", voice.name, "-s", str(voice.words_per_min),
                      "-p", str(voice.pitch), "-w", path, text])
                out[i] = _load(path)
            elif voice.engine == "flite":
                _run(["flite", "-voice", voice.name, "-t", text, "-o", path])
                out[i] = _load(path)
            elif voice.engine == "festival":
                fest.setdefault(voice.name, []).append(i)
            else:
                raise TtsError(f"unknown engine {voice.engine!r}; expected espeak, festival or flite")
        for name, idx in fest.items():
            script = os.path.join(tmp, f"{name}.scm")
            with open(script, "w") as f:
                f.write(f"(voice_{name})\n")
                for i in idx:
                    text = items[i][0].replace('"', "")
                    f.write(f'(utt.save.wave (utt.synth (Utterance Text "{text}")) '
                            f'"{os.path.join(tmp, f"{i}.wav")}" (quote riff))\n')
            _run(["festival", "-b", script])
            for i in idx:
                out[i] = _load(os.path.join(tmp, f"{i}.wav"))
    return out  # type: ignore[return-value]
