"""The workloads, one module each, found by name: a module wN_*.py here with

    NAME = "W9"                       its name in the table and in --only
    TITLE = "what it measures"        for --help
    SIZES = {option: dict(help=..., full=..., quick=..., wan=..., kind="size" or "count")}
    def prepare(bench): ...           makes its files under bench.data.root / .local (before the chown);
                                      what it returns is handed to run()
    def run(bench, prepared): ...     measures direct and ftpfs, adds rows with bench.results.row()

is picked up by itself (options, --only, the run): adding a workload touches one file.
"""
import importlib
import pkgutil
import re


def all_workloads():
    modules = []
    for info in pkgutil.iter_modules(__path__):
        if re.fullmatch(r"w\d+_\w+", info.name):
            modules.append(importlib.import_module(f"{__name__}.{info.name}"))
    return sorted(modules, key=lambda module: int(module.NAME[1:]))
