"""Typed errors of the firmware layer: each says what was expected, what was found and where.

`WeightStreamError` is a ValueError because it is raised on bad input data (a file, a byte string,
a matrix's words); `DeviceError` is the base of failures reported by a device backend, so a host can
catch every device-level failure with one `except`.
"""

from .isa import ErrorCode


class WeightStreamError(ValueError):
    """A compressed-weight stream is truncated, corrupted or inconsistent.

    The message names the byte offset (serialized form) or the word (in-memory words) at fault,
    e.g. "weight stream truncated at byte 1234: expected 64 more bytes of values".
    """


class ImageError(ValueError):
    """A device image (program, weights, tables and their placement) is malformed or does not fit."""


class ProgramError(ValueError):
    """A program cannot be built, assembled or placed: bad mnemonic, operand or instruction."""


class DeviceError(RuntimeError):
    """Base of device-level failures (a backend that cannot be reached, refused writes, faults)."""


class DeviceFault(DeviceError):
    """The core stopped with STATUS.error != NONE.

    Attributes: `error_code` (isa.ErrorCode) and `pc` (the instruction that failed).
    """

    def __init__(self, error_code: ErrorCode, pc: int, detail: str = ""):
        self.error_code = ErrorCode(error_code)
        self.pc = int(pc)
        message = f"device fault {self.error_code.name} at pc {self.pc}"
        super().__init__(f"{message}: {detail}" if detail else message)


class WeightTruncatedError(WeightStreamError):
    """The masks ask for more value beats than the header declares (device: WEIGHT_TRUNCATED)."""


class WeightLengthError(WeightStreamError):
    """The masks use fewer value beats than the header declares (device: WEIGHT_LENGTH)."""
