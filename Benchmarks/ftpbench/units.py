"""Sizes, rates, percentiles and how figures are printed."""
import argparse

KiB, MiB, GiB = 1 << 10, 1 << 20, 1 << 30


def parse_size(text):
    """'1G', '512M', '4096' -> bytes (powers of 1024)."""
    units = {"": 1, "K": KiB, "M": MiB, "G": GiB, "T": 1 << 40}
    t = text.strip().upper().removesuffix("B").removesuffix("I")
    number, unit = (t[:-1], t[-1]) if t and t[-1] in "KMGT" else (t, "")
    try:
        value = int(float(number) * units[unit])
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (e.g. 1G, 512M, 4096)")
    if value <= 0:
        raise argparse.ArgumentTypeError(f"size must be positive: {text!r}")
    return value


def parse_bandwidth(text):
    """'1G', '100M', '500k' (bits per second, powers of 1000, as links are sold) -> bytes per second."""
    units = {"": 1, "K": 1e3, "M": 1e6, "G": 1e9}
    t = text.strip().upper().removesuffix("BIT").removesuffix("BPS").removesuffix("B")
    number, unit = (t[:-1], t[-1]) if t and t[-1] in "KMG" else (t, "")
    try:
        bits = float(number) * units[unit]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a bandwidth: {text!r} (bits per second, e.g. 1G, 100M)")
    if bits <= 0:
        raise argparse.ArgumentTypeError(f"bandwidth must be positive: {text!r}")
    return bits / 8


def human_size(n):
    for unit, size in (("GiB", GiB), ("MiB", MiB), ("KiB", KiB)):
        if n >= size:
            value = n / size
            return f"{value:.0f} {unit}" if value == int(value) else f"{value:.1f} {unit}"
    return f"{n} B"


def human_bandwidth(bytes_per_second):
    bits = bytes_per_second * 8
    for unit, size in (("Gbit/s", 1e9), ("Mbit/s", 1e6), ("kbit/s", 1e3)):
        if bits >= size:
            return f"{bits / size:g} {unit}"
    return f"{bits:g} bit/s"


def percentile(values, p):
    """Nearest-rank percentile (p in 0..100)."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(1, -(-len(ordered) * p // 100))
    return ordered[int(rank) - 1]


def median(values):
    """The lower median (a figure that was measured, not an average of two)."""
    ordered = sorted(v for v in values if v is not None)
    return ordered[(len(ordered) - 1) // 2] if ordered else None


def fmt(value, unit):
    if value is None:
        return "-"
    if unit in ("MB/s", "files/s", "IOPS"):
        text = f"{value:,.0f}" if value >= 100 else f"{value:.1f}"
    elif unit == "s":
        text = f"{value:.3f}" if value < 10 else f"{value:.1f}"
    elif unit == "ms":
        text = f"{value:.3f}" if value < 1 else f"{value:.2f}" if value < 100 else f"{value:.0f}"
    else:
        text = f"{value:g}"
    return f"{text} {unit}"
