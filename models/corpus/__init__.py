"""Synthetic voice-assistant speech corpus: grammar, TTS engines, augmentation and the cached build."""
