"""ftpfs's benchmark, as a package: one module a concern, one module a workload.

    common.py        errors, logging, paths, small helpers every module uses
    units.py         sizes, rates and how figures are printed
    processes.py     children in their own sessions, with deadlines (a hung mount must not hang us)
    system.py        page cache, mount table, load average
    account.py       the benchmark's FTP account and PAM service, created when missing
    server.py        vsftpd on 127.0.0.1 with a generated config
    dataset.py       the run directory and the files workloads share
    proxy.py         the WAN delay proxy (a standalone script, run as a child)
    wan.py           starting that proxy and checking it (idle round trip, throughput)
    direct.py        the direct baseline: persistent ftplib sessions
    curl.py          curl, one process and one login per transfer (information only)
    mount.py         one ftpfs process on a fresh mount point
    trace.py         counting the FTP commands ftpfs sent, from its debug log
    ftp_minimum.py   the fewest round trips FTP allows for each single operation (W8)
    results.py       rows of figures, merged over repetitions, with their targets
    report.py        the tables on stdout and the JSON file
    options.py       the command line and the size profiles (full, --quick, --rtt)
    runner.py        the run: set up, run each workload, clean up (Bench: what workloads work with)
    cli.py           main(): arguments, signals, report, exit status
    workloads/       one module a workload (W1 ... W8); a new w*.py there is picked up by itself
"""
