"""8N1 UART receiver and transmitter with a fixed clock divisor (clocks per bit).

The receiver synchronises `rx` through two flops, waits for a start bit, samples each bit in its
middle, and drops a byte whose stop bit is low (a framing error, counted in `errors`). The
transmitter sends one byte when `valid` and `ready` are both high.
"""

from amaranth import *
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out


class UartRx(wiring.Component):
    def __init__(self, divisor: int):
        assert divisor >= 4
        self.divisor = divisor
        super().__init__({"rx": In(1, init=1), "data": Out(8), "valid": Out(1), "errors": Out(16)})

    def elaborate(self, platform):
        m = Module()
        d = self.divisor
        sync1, sync2 = Signal(init=1), Signal(init=1)
        m.d.sync += [sync1.eq(self.rx), sync2.eq(sync1)]
        timer = Signal(range(d + d // 2 + 1))
        bit = Signal(range(9))
        shift = Signal(8)
        m.d.sync += self.valid.eq(0)
        with m.FSM():
            with m.State("IDLE"):
                with m.If(~sync2):
                    m.d.sync += [timer.eq(d + d // 2 - 1), bit.eq(0)]     # to the middle of bit 0
                    m.next = "DATA"
            with m.State("DATA"):
                with m.If(timer == 0):
                    m.d.sync += [shift.eq(Cat(shift[1:], sync2)), bit.eq(bit + 1), timer.eq(d - 1)]
                    with m.If(bit == 7):
                        m.next = "STOP"
                with m.Else():
                    m.d.sync += timer.eq(timer - 1)
            with m.State("STOP"):
                with m.If(timer == 0):
                    with m.If(sync2):
                        m.d.sync += [self.data.eq(shift), self.valid.eq(1)]
                    with m.Else():
                        m.d.sync += self.errors.eq(self.errors + 1)
                    m.next = "WAIT_HIGH"
                with m.Else():
                    m.d.sync += timer.eq(timer - 1)
            with m.State("WAIT_HIGH"):
                # After a framing error the line may still be low; never take that as a start bit.
                with m.If(sync2):
                    m.next = "IDLE"
        return m


class UartTx(wiring.Component):
    def __init__(self, divisor: int):
        assert divisor >= 4
        self.divisor = divisor
        super().__init__({"tx": Out(1, init=1), "data": In(8), "valid": In(1), "ready": Out(1)})

    def elaborate(self, platform):
        m = Module()
        d = self.divisor
        timer = Signal(range(d))
        frame = Signal(10)
        bits = Signal(range(11))
        m.d.comb += self.ready.eq((bits == 0) & (timer == 0))
        with m.If(timer != 0):
            m.d.sync += timer.eq(timer - 1)
        with m.Elif(bits != 0):
            m.d.sync += [self.tx.eq(frame[0]), frame.eq(frame >> 1), bits.eq(bits - 1), timer.eq(d - 1)]
        with m.Elif(self.valid):
            m.d.sync += [frame.eq(Cat(C(0, 1), self.data, C(1, 1))), bits.eq(10)]
        return m
