"""Device backends behind `host.device.Device`: `golden` (instruction-level model) and `verilator` (the RTL)."""
