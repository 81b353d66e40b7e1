"""Splitting a packed simulator value into its fields (lanes packed by `Cat`, lane 0 lowest)."""


def unsigned_fields(value, width: int, count: int) -> list[int]:
    word = int(value)
    mask = (1 << width) - 1
    return [(word >> (i * width)) & mask for i in range(count)]


def signed_fields(value, width: int, count: int) -> list[int]:
    half = 1 << (width - 1)
    return [f - (half << 1) if f & half else f for f in unsigned_fields(value, width, count)]
