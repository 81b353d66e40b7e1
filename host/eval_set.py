"""Your own evaluation set for `edgeasr bench asr --manifest PATH`: recordings and their transcripts.

The synthetic corpus says how the recognizer does on voices like its training voices and on the
held-out flite voices; a user's recordings say how it does on theirs. Three layouts are read:
    a JSONL file   one object per line: {"audio": "a.wav", "text": "call anne"} and optionally
                   "id", "speech_start_s", "speech_end_s" (the true speech boundaries, seconds)
    a TSV file     (any other extension) one `audio<TAB>text` line per utterance; blank lines and
                   lines starting with # are skipped
    a directory    every .wav/.flac file with a .txt transcript of the same name beside it
Audio paths are relative to the manifest's folder. Audio goes through `host.audio.read_audio` (any
rate, channel count and sample format soundfile reads). Transcripts are normalized as the training
text is (`grammar.normalize`: lower case, the model's alphabet); a transcript with digits is
refused, since the model spells numbers out and "5" would silently vanish from the reference.
Without given boundaries the speech end is estimated from the signal energy (`estimate_speech`),
and the result says so: end-pointer latencies are then measured from an estimate.
Every problem is an `EvalSetError` naming the file and line, raised before any decoding starts.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

import numpy as np

from .audio import SAMPLE_RATE_HZ, AudioFormatError, read_audio

AUDIO_EXTENSIONS = (".wav", ".flac")
FRAME = SAMPLE_RATE_HZ // 100          # 10 ms energy frames


class EvalSetError(ValueError):
    """The evaluation set cannot be read; the message names the file and line."""


@dataclass
class EvalUtterance:
    id: str
    text: str
    audio: np.ndarray                  # float32, 16 kHz mono
    speech_start_s: float
    speech_end_s: float
    boundaries_estimated: bool


def estimate_speech(audio: np.ndarray, floor_margin_db: float = 12.0, peak_range_db: float = 40.0
                    ) -> tuple[float, float]:
    """(start, end) seconds of the span whose 10 ms frames rise `floor_margin_db` above the noise
    floor (the 10th percentile of frame energies) and within `peak_range_db` of the loudest frame;
    the whole file when nothing does (silence, or noise without speech)."""
    n = len(audio) // FRAME
    if n == 0:
        return 0.0, len(audio) / SAMPLE_RATE_HZ
    e = 10 * np.log10((audio[: n * FRAME].reshape(n, FRAME).astype(np.float64) ** 2).mean(axis=1) + 1e-12)
    threshold = max(np.percentile(e, 10) + floor_margin_db, e.max() - peak_range_db)
    on = np.nonzero(e > threshold)[0]
    if on.size == 0:
        return 0.0, len(audio) / SAMPLE_RATE_HZ
    return on[0] * FRAME / SAMPLE_RATE_HZ, (on[-1] + 1) * FRAME / SAMPLE_RATE_HZ


def _entries(path: str) -> list[tuple[str, dict]]:
    """(where, {"audio", "text", ...}) for every utterance, `where` naming file and line."""
    if os.path.isdir(path):
        out = []
        for name in sorted(os.listdir(path)):
            stem, ext = os.path.splitext(name)
            if ext.lower() not in AUDIO_EXTENSIONS:
                continue
            txt = os.path.join(path, stem + ".txt")
            if not os.path.exists(txt):
                raise EvalSetError(f"{os.path.join(path, name)}: no transcript {stem}.txt beside it")
            with open(txt, encoding="utf-8") as f:
                out.append((txt, {"audio": name, "text": f.read(), "id": stem}))
        if not out:
            raise EvalSetError(f"{path}: no {'/'.join(AUDIO_EXTENSIONS)} files with .txt transcripts")
        return out
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise EvalSetError(f"{path}: cannot read the manifest ({e})") from None
    out = []
    for k, line in enumerate(lines, 1):
        where = f"{path}:{k}"
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if path.endswith(".jsonl"):
            try:
                entry = json.loads(line)
            except json.JSONDecodeError as e:
                raise EvalSetError(f"{where}: not JSON ({e.msg})") from None
            if not isinstance(entry, dict) or not isinstance(entry.get("audio"), str) \
                    or not isinstance(entry.get("text"), str):
                raise EvalSetError(f'{where}: expected an object with string "audio" and "text"')
        else:
            fields = line.split("\t")
            if len(fields) != 2:
                raise EvalSetError(f"{where}: expected `audio<TAB>text`, got {len(fields)} field(s)")
            entry = {"audio": fields[0].strip(), "text": fields[1]}
        out.append((where, entry))
    if not out:
        raise EvalSetError(f"{path}: no utterances")
    return out


def _boundary(entry: dict, key: str, where: str) -> float | None:
    v = entry.get(key)
    if v is None:
        return None
    if not isinstance(v, (int, float)) or isinstance(v, bool) or not np.isfinite(v) or v < 0:
        raise EvalSetError(f"{where}: {key} must be a non-negative number of seconds, got {v!r}")
    return float(v)


def load_eval_set(path: str) -> list[EvalUtterance]:
    """Every utterance of the manifest or directory at `path` (see the module docstring)."""
    from ..models.corpus.grammar import normalize
    if not os.path.exists(path):
        raise EvalSetError(f"{path}: no such manifest or directory")
    folder = path if os.path.isdir(path) else os.path.dirname(os.path.abspath(path))
    utts, seen = [], set()
    for where, entry in _entries(path):
        raw = entry["text"].strip()
        if any(ch.isdigit() for ch in raw):
            raise EvalSetError(f"{where}: the transcript {raw!r} has digits; write numbers as words "
                               f"(the model spells them out)")
        text = normalize(raw)
        if not text:
            raise EvalSetError(f"{where}: empty transcript")
        audio_path = os.path.join(folder, entry["audio"])
        try:
            audio = read_audio(audio_path)
        except AudioFormatError as e:
            raise EvalSetError(f"{where}: {e}") from None
        uid = str(entry.get("id") or os.path.splitext(os.path.basename(entry["audio"]))[0])
        if uid in seen:
            raise EvalSetError(f"{where}: id {uid!r} appears twice")
        seen.add(uid)
        start, end = _boundary(entry, "speech_start_s", where), _boundary(entry, "speech_end_s", where)
        estimated = start is None or end is None
        if estimated:
            est = estimate_speech(audio)
            start = est[0] if start is None else start
            end = est[1] if end is None else end
        duration = len(audio) / SAMPLE_RATE_HZ
        if not start < end <= duration + 0.01:
            raise EvalSetError(f"{where}: speech from {start:.3f} s to {end:.3f} s does not fit the "
                               f"{duration:.3f} s of {entry['audio']}")
        utts.append(EvalUtterance(uid, text, audio, start, end, estimated))
    return utts
