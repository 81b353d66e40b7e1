"""Local text-to-speech engines, each returning float32 16 kHz mono waveforms.

Training voices: espeak-ng English dialects with voice variants (never the mbrola `mb-*` voices)
and festival's voices (`FESTIVAL_VOICE_SETS`). Held-out test voices: flite kal16, awb, rms and slt
(never `awb_time`, a clock-only voice, nor the 8 kHz `kal`).
A `Voice` is data (engine, name, rate and pitch settings), so a manifest records exactly who spoke.

Voice set 1 is festival's kal_diphone and cmu_us_slt_arctic_hts as they come. Set 2 adds
ked_diphone and gives every festival utterance its own speaking rate and, for the diphone voices,
its own pitch level and range: a model trained on set 1 recognizes flite's kal16 (the training kal
speaker) about as well as the dev set (28.5% WER for the stride-2 teacher) but not flite's awb,
rms and slt (60-74%), so what the held-out voices need is more speakers, not more sentences.
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
FESTIVAL_VOICE_SETS = {1: ["kal_diphone", "cmu_us_slt_arctic_hts"],
                       2: ["kal_diphone", "ked_diphone", "cmu_us_slt_arctic_hts"]}
FESTIVAL_VOICES = FESTIVAL_VOICE_SETS[1]
VOICE_SETS = tuple(FESTIVAL_VOICE_SETS)
# Set 2's festival prosody: rate factor (>1 faster) and, for diphone voices, the target F0 mean and
# standard deviation in Hz (the voices' own: about 105 and 14, male).
FESTIVAL_RATE = (0.85, 1.2)
FESTIVAL_F0_MEAN_HZ = (85, 210)
FESTIVAL_F0_STD_HZ = (8, 35)
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
    rate: float = 0.0        # festival only: speaking-rate factor, >1 faster; 0: the voice's own
    f0_mean: int = 0         # festival diphone voices only: target F0 mean and standard deviation
    f0_std: int = 0          # in Hz; 0: the voice's own

    @property
    def label(self) -> str:
        if self.engine == "espeak":
            return f"espeak:{self.name}:s{self.words_per_min}p{self.pitch}"
        prosody = (f":r{self.rate:g}" if self.rate else "") + (f"f{self.f0_mean}~{self.f0_std}"
                                                               if self.f0_mean else "")
        return f"{self.engine}:{self.name}{prosody}"


def random_voice(rng, engines=TRAIN_ENGINES, weights=None, voice_set: int = 1) -> Voice:
    """A voice from `engines`; espeak gets a random dialect, variant, rate and pitch, festival (from
    voice set 2 on) a random rate and, for diphone voices, pitch level and range."""
    if voice_set not in FESTIVAL_VOICE_SETS:
        raise ValueError(f"unknown voice set {voice_set}; expected one of {VOICE_SETS}")
    weights = weights or {"espeak": 0.5, "festival": 0.5, "flite": 1.0}
    w = np.array([weights[e] for e in engines])
    engine = engines[int(rng.choice(len(engines), p=w / w.sum()))]
    if engine == "espeak":
        d = ESPEAK_DIALECTS[int(rng.integers(len(ESPEAK_DIALECTS)))]
        v = ESPEAK_VARIANTS[int(rng.integers(len(ESPEAK_VARIANTS)))]
        return Voice("espeak", d + ("+" + v if v else ""), int(rng.integers(130, 200)),
                     int(rng.integers(25, 75)))
    names = FESTIVAL_VOICE_SETS[voice_set] if engine == "festival" else FLITE_VOICES
    name = names[int(rng.integers(len(names)))]
    if engine != "festival" or voice_set < 2:
        return Voice(engine, name)
    rate = round(float(rng.uniform(*FESTIVAL_RATE)), 3)
    if not name.endswith("_diphone"):
        return Voice(engine, name, rate=rate)
    return Voice(engine, name, rate=rate, f0_mean=int(rng.integers(*FESTIVAL_F0_MEAN_HZ)),
                 f0_std=int(rng.integers(*FESTIVAL_F0_STD_HZ)))


def _festival_prosody(voice: Voice) -> str:
    """Scheme lines that give the next utterance `voice`'s rate and pitch (none for the voice's own:
    set-1 scripts stay byte-identical). Selecting the voice first resets what the previous
    utterance changed."""
    if not (voice.rate or voice.f0_mean):
        return ""
    lines = [f"(voice_{voice.name})"]
    if voice.name.endswith("_diphone"):
        if voice.rate:      # the diphone voices' own Duration_Stretch is 1.1
            lines.append(f"(Parameter.set 'Duration_Stretch {1.1 / voice.rate:.4f})")
        if voice.f0_mean:
            lines.append(f"(set! int_lr_params '((target_f0_mean {voice.f0_mean}) (target_f0_std "
                         f"{voice.f0_std}) (model_f0_mean 170) (model_f0_std 34)))")
    elif voice.rate:        # HTS voices ignore Duration_Stretch; their engine takes a speed rate
        lines.append(f'(set! hts_engine_params (append hts_engine_params (list (list "-r" {voice.rate:.4f}))))')
    return "\n".join(lines) + "\n"


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
                    f.write(_festival_prosody(items[i][1]))
                    f.write(f'(utt.save.wave (utt.synth (Utterance Text "{text}")) '
                            f'"{os.path.join(tmp, f"{i}.wav")}" (quote riff))\n')
            _run(["festival", "-b", script])
            for i in idx:
                out[i] = _load(os.path.join(tmp, f"{i}.wav"))
    return out  # type: ignore[return-value]
