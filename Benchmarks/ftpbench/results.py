"""Rows of figures: one per measurement and repetition, merged into one per table line.

A row compares ftpfs with the direct baseline (persistent ftplib sessions) and, for information,
with curl (one process and one login per transfer). Targets are checked on the merged medians.
"""
from .common import log
from .units import median

RSS_LIMIT_KIB = 64 * 1024


class Results:
    def __init__(self):
        self.rows = []       # every measurement of every repetition (the JSON's "measurements")
        self.failures = []   # (workload, message)
        self.repetition = 1

    def row(self, workload, label, unit, ftpfs, direct, direct_client, higher_better, target=None, mount=None,
            curl=None, extra=None):
        """One measurement. direct_client says which direct client made `direct`; curl is the
        curl-per-transfer figure (information, None where not measured). target: None (information),
        {"ratio": MIN} (ftpfs against direct), plus "rss_kib": LIMIT (peak RSS below it), {"rss_kib": LIMIT}
        alone (rows with no direct figure), or
        {"speedup_over": LABEL, "min": X} (the row LABEL's ftpfs time ÷ this row's ftpfs time ≥ X)."""
        self.rows.append(dict(workload=workload, label=label, unit=unit, ftpfs=ftpfs, direct=direct,
                              baseline=direct_client, curl=curl, higher_is_better=higher_better, target=target,
                              peak_rss_kib=mount.peak_rss_kib if mount else None,
                              ftpfs_cpu_s=mount.cpu_seconds if mount else None,
                              ftpfs_exit_s=mount.exit_seconds if mount else None, extra=extra or {},
                              repetition=self.repetition))

    def fail(self, workload, message):
        self.failures.append((workload, message))
        self.rows.append(dict(workload=workload, label="FAILED", error=message, repetition=self.repetition))
        log(f"{workload} FAILED: {message}")

    def merged(self):
        """The rows of every repetition merged: medians of the figures, the highest peak RSS; then the
        ratios and the target, evaluated on the medians."""
        groups, order = {}, []
        for row in self.rows:
            if "error" in row:
                continue
            key = (row["workload"], row["label"])
            if key not in groups:
                groups[key] = []
                order.append(key)
            groups[key].append(row)
        out, by_label = [], {}
        for key in order:
            rows = groups[key]
            first = dict(rows[0])
            first["repetitions"] = len(rows)
            for field in ("ftpfs", "direct", "curl", "ftpfs_cpu_s"):
                first[field] = median(r[field] for r in rows)
                if len(rows) > 1:
                    first[field + "_all"] = [r[field] for r in rows]
            rss = [r["peak_rss_kib"] for r in rows if r["peak_rss_kib"] is not None]
            first["peak_rss_kib"] = max(rss) if rss else None
            first.pop("repetition", None)
            first["ratio"] = ratio(first["ftpfs"], first["direct"], first["higher_is_better"])
            first["curl_ratio"] = ratio(first["ftpfs"], first["curl"], first["higher_is_better"])
            by_label[key[1]] = first
            out.append(first)
        for row in out:
            row["target_text"], row["target_met"] = evaluate_target(row, by_label)
        return out


def ratio(ftpfs, other, higher_is_better):
    """> 1 means ftpfs is better: rates ftpfs ÷ other, times other ÷ ftpfs."""
    if not ftpfs or not other or ftpfs <= 0 or other <= 0:
        return None
    return ftpfs / other if higher_is_better else other / ftpfs


def evaluate_target(row, by_label):
    """(text for the table, met: True/False/None) of a merged row."""
    target = row.get("target")
    if not target:
        return "", None
    if "speedup_over" in target:
        cold = by_label.get(target["speedup_over"])
        minimum = target["min"]
        if not cold or not cold["ftpfs"] or not row["ftpfs"]:
            return f"cold/warm ≥ {minimum:g}", None
        speedup = cold["ftpfs"] / row["ftpfs"]
        return f"cold/warm ≥ {minimum:g} (is {speedup:.1f})", speedup >= minimum
    if "ratio" not in target and "rss_kib" in target:
        limit = target["rss_kib"]
        peak = row["peak_rss_kib"]
        return f"RSS < {limit // 1024} MiB", (None if peak is None else peak < limit)
    minimum = target["ratio"]
    text = f"≥ {minimum:g}"
    if minimum == 0.5 and not row["higher_is_better"]:
        text += " (within 2×)"
    if target.get("note"):
        text += f" ({target['note']})"
    met = row["ratio"] is not None and row["ratio"] >= minimum
    if "rss_kib" in target:
        text += f", RSS < {target['rss_kib'] // 1024} MiB"
        met = met and row["peak_rss_kib"] is not None and row["peak_rss_kib"] < target["rss_kib"]
    return text, (met if row["ratio"] is not None else None)
