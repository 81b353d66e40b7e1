"""The host bus of the NEP: a plain synchronous word bus (see firmware.memory_map for the address map).

A write takes one cycle with `w_en` high. A read puts `r_en` high for one cycle and finds the data on
`r_data` in the next cycle. There is no wait state and no back-pressure, so a host (cocotb bench,
C++ harness or UART bridge) can stream one access per clock.
"""

from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ..firmware.memory_map import BUS_ADDR_BITS, BUS_DATA_BITS


class BusSignature(wiring.Signature):
    """Seen from the core: the host drives addr/w_data/w_en/r_en, the core drives r_data."""

    def __init__(self):
        super().__init__({
            "addr": In(BUS_ADDR_BITS),
            "w_data": In(BUS_DATA_BITS),
            "w_en": In(1),
            "r_en": In(1),
            "r_data": Out(BUS_DATA_BITS),
        })
