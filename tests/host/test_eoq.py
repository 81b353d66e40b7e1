"""The end-of-query detector: features, end-word odds, the logistic fit, calibration, file format."""

import json

import numpy as np
import pytest

from edgeasr.host.eoq import FEATURES, EoqDetector, StepInfo, end_word_table, fit_logistic
from edgeasr.host.eoq_train import calibrate, train_detector

STEP_S = 0.06


def synthetic_trace(speech_s: float, pause_at: float | None = None, total_s: float = 3.0, loud: float = 60.0,
                    quiet: float = -40.0, words=("turn", "on", "the", "lights")):
    """Steps of an utterance: loud while speaking (a 0.36 s pause at `pause_at`), quiet after;
    the decoder emits a word every ~0.3 s while speech lasts."""
    trace, last_token, text = [], None, []
    for i in range(int(total_s / STEP_S)):
        t = round((i + 1) * STEP_S, 6)
        in_pause = pause_at is not None and pause_at <= t < pause_at + 0.36
        speaking = t < speech_s and not in_pause
        if speaking and (not text or t - last_token >= 0.3) and len(text) < len(words):
            text.append(words[len(text)])
            last_token = t
        silence = 0.0 if last_token is None else round(t - last_token, 6)
        trace.append((t + 0.1, StepInfo(t, silence if text else t, bool(text), " ".join(text),
                                        loud if speaking else quiet)))
    return trace


def test_end_word_table_counts_last_words():
    table, prior = end_word_table(["turn on the lights", "call mom", "call mom now", "lights off"])
    prior_p = 4 / 11                                     # 4 endings among 11 words
    assert prior == pytest.approx(np.log(4 / 7), abs=1e-4)
    # "lights" ends 1 of its 2 uses, "call" none of 2: add-one counts split by the prior
    assert table["lights"] == pytest.approx(np.log((1 + prior_p) / (1 + 1 - prior_p)), abs=1e-4)
    assert table["call"] == pytest.approx(np.log(prior_p / (2 + 1 - prior_p)), abs=1e-4)
    assert table["mom"] == table["lights"] and table["now"] > table["lights"] > table["call"]


def test_logistic_fit_separates_a_separable_set():
    rng = np.random.default_rng(0)
    x = np.c_[np.ones(200), rng.normal(size=200)]
    y = (x[:, 1] > 0.3).astype(float)
    w = fit_logistic(x, y)
    p = 1 / (1 + np.exp(-(x @ w)))
    assert np.mean((p > 0.5) == (y > 0)) > 0.97


def test_tracker_features_are_relative_to_the_loudest_step():
    det = EoqDetector(tuple([0.0] * len(FEATURES)))
    tr = det.tracker()
    tr.features(StepInfo(0.06, 0.0, False, "", 80.0))
    x = tr.features(StepInfo(0.12, 0.06, True, "call", 48.0))
    assert len(x) == len(FEATURES)
    assert x[FEATURES.index("energy")] == pytest.approx(-2.0)        # 32 int8 units = 2 nats below the peak
    assert x[FEATURES.index("peak8")] == 0.0 and x[FEATURES.index("has_tokens")] == 1.0


def test_trained_detector_meets_its_early_budget_and_leads_the_final():
    rng = np.random.default_rng(1)
    traces, ends = [], []
    for i in range(80):
        end = float(rng.uniform(0.8, 1.8))
        pause = float(rng.uniform(0.3, end - 0.45)) if i % 3 == 0 else None
        traces.append(synthetic_trace(end, pause))
        ends.append(end)
    det = train_detector(traces, ends, ["turn on the lights"] * 5, max_early=0.05, lead_s=0.12)
    cal = det.calibration
    assert cal["final_early_cutoff_rate"] <= 0.05
    assert cal["speculative_lead_median_s"] >= 0.12
    assert det.speculative_threshold == det.final_threshold and det.final_hold_steps == 2    # ceil(0.12 / 0.06)
    assert cal["final_latency_median_s"] < 1.2                 # well ahead of the 1.2 s rule
    # the calibration's own bookkeeping agrees with the Endpointer the recognizer drives
    from edgeasr.host.endpoint_eval import replay
    from edgeasr.host.endpointer import FINAL, SPECULATIVE, Endpointer
    fire = [replay(t, Endpointer(FINAL, SPECULATIVE, det)) for t in traces[40:]]
    assert np.median([f.final_s - e for f, e in zip(fire, ends[40:])]) == pytest.approx(cal["final_latency_median_s"],
                                                                                         abs=1e-3)
    assert np.median([f.final_s - f.speculative_s for f in fire]) == pytest.approx(cal["speculative_lead_median_s"],
                                                                                     abs=1e-3)


def test_calibration_is_stricter_when_asked():
    traces = [synthetic_trace(1.0 + 0.05 * i, 0.4 if i % 2 else None) for i in range(20)]
    ends = [1.0 + 0.05 * i for i in range(20)]
    det = train_detector(traces, ends, ["turn on the lights"], max_early=0.5)
    loose = calibrate(det, traces, ends, max_early=0.5)
    strict = calibrate(det, traces, ends, max_early=0.0)
    assert strict[0] >= loose[0] and strict[1] == loose[1] == 4          # 0.2 s = 4 steps of hold
    assert strict[2]["final_early_cutoff_rate"] == 0.0


def test_save_load_round_trip_and_bad_files(tmp_path):
    det = EoqDetector(tuple(float(i) for i in range(len(FEATURES))), {"lights": 1.5}, -2.0, 0.4, 0.7, {"n": 3})
    path = tmp_path / "eoq.json"
    det.save(str(path))
    assert EoqDetector.load(str(path)) == det
    d = json.loads(path.read_text())
    d["features"] = d["features"][:-1]
    path.write_text(json.dumps(d))
    with pytest.raises(ValueError, match="other features"):
        EoqDetector.load(str(path))
    path.write_text("{not json")
    with pytest.raises(ValueError, match="cannot read the EOQ detector"):
        EoqDetector.load(str(path))
    with pytest.raises(ValueError, match="thresholds"):
        EoqDetector(det.weights, speculative_threshold=0.9, final_threshold=0.5)


def test_eoq_train_command_writes_a_loadable_detector(small_student, tmp_path):
    from edgeasr.host import cli
    from edgeasr.models.export import save_image
    rng = np.random.default_rng(5)
    clips = []
    for i in range(6):
        t = np.arange(int((0.4 + 0.05 * i) * 16000)) / 16000
        clips.append(np.concatenate([np.sin(2 * np.pi * 300 * t) * 0.3, rng.normal(size=8000) * 0.002]))
    pcm = (np.concatenate(clips) * 32767).astype(np.int16)
    np.save(tmp_path / "dev_0.npy", pcm)
    offset = 0
    with open(tmp_path / "dev.jsonl", "w") as f:
        for i, c in enumerate(clips):
            f.write(json.dumps({"id": f"dev-{i}", "text": "stop", "voice": {}, "speech_start_s": 0.0,
                                "speech_end_s": round(len(c) / 16000 - 0.5, 4), "chunk": 0, "offset": offset,
                                "n_samples": len(c)}) + "\n")
            offset += len(c)
    (tmp_path / "train.jsonl").write_text(json.dumps({"text": "turn on the lights"}) + "\n")
    model = tmp_path / "student.npz"
    save_image(small_student, str(model))
    out = tmp_path / "eoq.json"
    assert cli.main(["eoq", "train", "--model", str(model), "--corpus", str(tmp_path), "-o", str(out)]) == 0
    det = EoqDetector.load(str(out))
    assert det.calibration["utterances"] == 3 and det.calibration["fit_utterances"] == 3
    assert det.end_word_log_odds["lights"] > det.end_word_log_odds["turn"]
