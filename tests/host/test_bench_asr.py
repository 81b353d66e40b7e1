"""The recognizer benchmark on a two-utterance corpus written on the fly (golden device, 8 lanes)."""

import json

import numpy as np

from edgeasr.host.bench_asr import run_bench_asr
from edgeasr.models.export import save_image


def write_corpus(path, seed=11):
    rng = np.random.default_rng(seed)
    audio = (rng.normal(size=2 * 8000) * 3000).astype(np.int16)
    np.save(path / "test_0.npy", audio)
    with open(path / "test.jsonl", "w") as f:
        for i, text in enumerate(["call anne", "stop"]):
            f.write(json.dumps({"id": f"test-{i}", "text": text, "voice": {}, "speech_start_s": 0.1,
                                "speech_end_s": 0.4, "chunk": 0, "offset": 8000 * i, "n_samples": 8000}) + "\n")


def test_bench_reports_every_figure(small_student, tmp_path):
    write_corpus(tmp_path)
    model = tmp_path / "student.npz"
    save_image(small_student, str(model))
    out = run_bench_asr(str(model), str(tmp_path), "test", device="golden", lanes=8, pad_silence_s=0.5,
                        progress=False)
    assert out["utterances"] == 2 and 0 <= out["wer"]
    assert out["cycles_per_audio_s"] > 0 and out["rtf_at_100mhz"] == round(out["cycles_per_audio_s"] / 1e8, 5)
    assert out["audio_bytes_per_utterance"] == 16000 and out["lattice_bytes_per_utterance"] > 0
    assert set(out["latency_final_s"]) == {"median", "p90"} and 0 <= out["early_cutoff_rate"] <= 1
    assert out["endpointer"].startswith("rules")              # no EOQ detector given: the rules alone
    assert len(out["endpointers"]) == 5 and "rule: 2.4 s any trailing silence" in out["endpointers"]
    assert all(0 <= row["early_cutoff_rate"] <= 1 for row in out["endpointers"].values())


def test_bench_records_the_search_it_ran(small_student, tmp_path):
    from edgeasr.host.beam_search import BeamSearchConfig
    from edgeasr.host.char_lm import CharNgramLM
    write_corpus(tmp_path)
    model = tmp_path / "student.npz"
    save_image(small_student, str(model))
    lm = CharNgramLM.train(["call anne", "stop"], order=3)
    out = run_bench_asr(str(model), str(tmp_path), "test", device="golden", lanes=8, pad_silence_s=0.5,
                        progress=False, search=BeamSearchConfig(beam=2, lm_weight=0.4, length_bonus=0.5),
                        lm=lm, lm_path="tiny.npz")
    assert (out["beam"], out["lm"], out["lm_weight"], out["length_bonus"]) == (2, "tiny.npz", 0.4, 0.5)
    plain = run_bench_asr(str(model), str(tmp_path), "test", device="golden", lanes=8, pad_silence_s=0.5,
                          progress=False)
    assert (plain["beam"], plain["lm"], plain["lm_weight"]) == (4, None, 0.0)
