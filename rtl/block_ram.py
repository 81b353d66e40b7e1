"""How the NEP's memories are handed to synthesis.

Every memory is made with `ATTRS` and read through a `ReadPort`: an asynchronous read port
followed by a register, which behaves exactly like Amaranth's synchronous read port (data the
cycle after the address, the value from before a write in the same cycle). Yosys merges the
register into a block RAM port and, because the memory is marked `no_rw_check`, leaves a read
and a write of one entry in one cycle undefined instead of emulating read-before-write (an ECP5
DP16KD leaves that case undefined across its two ports). The emulation put an address comparator
in front of a register and a multiplexer behind the RAM's output, which is already slow (~5.8 ns
clock-to-out). Yosys only applies `no_rw_check` to ports it builds itself from a register, hence
the asynchronous port.

No memory of the NEP is ever read and written at one entry in one cycle where the read matters:
the host bus does one access per cycle and is refused while the core runs; a MATVEC's destination
never overlaps its source (an idle lane's read is multiplied by zero); ACT/EW write element i while
reading a later one; the link bridge's buffers are filled and read in different states.
Simulation keeps the read-before-write rule.
"""

from amaranth import *
from amaranth.lib.memory import Memory

ATTRS = {"no_rw_check": 1}


class ReadPort:
    """`addr` (driven by the user) and `data` (the entry at last cycle's `addr`, a register)."""

    def __init__(self, m: Module, memory: Memory, name: str):
        port = memory.read_port(domain="comb")
        self.addr = port.addr
        self.data = Signal.like(port.data, name=f"{name}_data")
        m.d.sync += self.data.eq(port.data)
