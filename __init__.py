"""edgeasr: an open on-device speech recognition stack built around a zero-skipping neural edge processor."""
