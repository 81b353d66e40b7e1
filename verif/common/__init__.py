"""Shared cocotb machinery: the bus driver and TB (`tb`), devices behind one interface (`device`) and
the scoreboard that compares a device with the golden core (`scoreboard`)."""
