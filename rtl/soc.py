"""The NEP SoC: the core behind a UART and the framed link bridge, as it goes on a dev board.

Pins: `uart_rx` (from the host) and `uart_tx` (to the host), 8N1 at clock / `divisor` baud.
The same design runs in Verilator behind a pseudo-terminal for hardware-in-the-loop tests.
"""

from amaranth import *
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ..firmware.link_protocol import IDLE_RESET_BYTES
from ..firmware.memory_map import CoreConfig
from .core import COUNTER_BITS, NEPCore
from .link_bridge import LinkBridge
from .uart import UartRx, UartTx

BUS_STAGES = 1      # registers between the bridge's bus requests and the core, and back


class NEPSoC(wiring.Component):
    """`core_read_latency` and `bus_stages` default to what a 100 MHz ECP5 needs (see below); a slow
    small FPGA (iCE40 at 12 MHz) may pass 1 and 0 and save the registers. `counter_bits` is the
    core's event counter width (`NEPCore`)."""

    def __init__(self, config: CoreConfig = CoreConfig(), divisor: int = 8, *, core_read_latency: int = 3,
                 bus_stages: int = BUS_STAGES, counter_bits: int = COUNTER_BITS):
        assert bus_stages in (0, 1), bus_stages
        self.config, self.divisor = config, divisor
        self.core_read_latency, self.bus_stages, self.counter_bits = core_read_latency, bus_stages, counter_bits
        super().__init__({
            "uart_rx": In(1, init=1),
            "uart_tx": Out(1, init=1),
            "busy": Out(1),
            "link_errors": Out(16),
        })

    def elaborate(self, platform):
        m = Module()
        # On an FPGA every block RAM output is registered and each region's word once more before
        # the core's read multiplexer (a 3-cycle core read), the bridge's bus requests pass one
        # register stage on their way to the core and the core's read data one on its way back
        # (the core's read multiplexers and the bridge need not be near each other); the bridge
        # waits for all of them, and for the core's posted CTRL.START.
        m.submodules.core = core = NEPCore(self.config, bus_read_latency=self.core_read_latency,
                                           counter_bits=self.counter_bits)
        m.submodules.rx = rx = UartRx(self.divisor)
        m.submodules.tx = tx = UartTx(self.divisor)
        m.submodules.bridge = bridge = LinkBridge(idle_reset_cycles=IDLE_RESET_BYTES * 10 * self.divisor,
                                                  bus_read_latency=2 * self.bus_stages + self.core_read_latency,
                                                  bus_delay=self.bus_stages + core.start_delay)
        requests = [core.bus.addr.eq(bridge.bus.addr), core.bus.w_data.eq(bridge.bus.w_data),
                    core.bus.w_en.eq(bridge.bus.w_en), core.bus.r_en.eq(bridge.bus.r_en)]
        m.d["sync" if self.bus_stages else "comb"] += requests + [bridge.bus.r_data.eq(core.bus.r_data)]
        m.d.comb += [
            rx.rx.eq(self.uart_rx), self.uart_tx.eq(tx.tx),
            bridge.rx_data.eq(rx.data), bridge.rx_valid.eq(rx.valid),
            tx.data.eq(bridge.tx_data), tx.valid.eq(bridge.tx_valid), bridge.tx_ready.eq(tx.ready),
            bridge.core_busy.eq(core.busy), self.busy.eq(core.busy),
            self.link_errors.eq(bridge.frames_bad + rx.errors),
        ]
        return m
