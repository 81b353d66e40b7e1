"""The on-device RNN-T: corpus, float teacher, NEP-mappable student, QAT, sparsity, export, golden.

corpus/        grammar of voice-assistant requests, local TTS, augmentation, cached seeded build
features.py    streaming log-mel front end and the int8 encoder input
rnnt_loss.py   vectorized RNN-T loss (tested against brute force)
rnnt.py        teacher and student transducers, greedy search
quant.py       fake quantization, grid regularizer, snaps (formats from firmware.number_formats)
sparsity.py    cubic schedule and lane-balanced masks (firmware.weight_codec.balanced_prune)
data.py        batches with fresh augmentation and SpecAugment
train.py       the staged, resumable teacher-student / QAT / sparsity run and its evaluation
export.py      the student in NEP formats (firmware.weight_codec)
golden_rnnt.py the integer golden RNN-T on firmware.ops
report.py      loss, sparsity and distance-to-grid curves, the WER table
cli.py         `edgeasr corpus` and `edgeasr train`
"""
