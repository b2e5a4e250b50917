"""The fewest round trips FTP allows for each single operation of W8, and why.

Assumed: a logged-in control connection that is idle (warm), the parent directory's listing
known (except where the operation says cold), passive mode, and a client that sends a command
as soon as it no longer needs an earlier reply to compose it (pipelining what RFC 959 allows).
A transfer's data arrives together with the reply to RETR/LIST/MLSD, so the data itself adds no
round trip beyond its transfer time; its closing 226 can be read after the data is handed over.
Opening a TCP connection is not counted: it costs one round trip across the internet, none
through the benchmark's proxy (see proxy.py), and a client can open the passive connection
ahead of need. Where a passive port asked ahead of need would save the EPSV round trip, the
note says so.
"""

# operation key -> (round trips, the commands, the reasoning)
MINIMUM = {
    "stat_cold": (1, "MLST",
                  "one MLST of the file gives type, size and time; listing the whole directory costs "
                  "EPSV + MLSD (2)"),
    "cat_warm": (2, "EPSV, RETR",
                 "EPSV's reply names the port; RETR's reply comes with the data (1 with a passive port "
                 "asked ahead)"),
    "cat_cold": (2, "MLST+EPSV, RETR",
                 "the lookup's MLST goes out with EPSV; then RETR (1 with a passive port asked ahead)"),
    "ls_1000": (2, "EPSV, MLSD",
                "one listing gives every entry's attributes, so ls -l's lstat calls cost nothing; plus "
                "the listing's transfer time"),
    "mkdir": (1, "MKD", "the parent's listing already says the name is free"),
    "rm": (1, "DELE", "the parent's listing already says what the name is"),
    "mv": (1, "RNFR+RNTO", "RNTO can follow RNFR without waiting for its 350"),
    "touch_new": (2, "EPSV, STOR (empty)",
                  "an empty STOR creates the file; the server's time is already now, so no MFMT"),
    "cp_1k": (2, "EPSV, STOR+data", "the 1 KiB goes with the STOR; 226 confirms it"),
    "append": (2, "EPSV, APPE+data", "the appended line goes with the APPE; 226 confirms it"),
}


def minimum(operation):
    return MINIMUM[operation][0]


def explanation(operation):
    trips, commands, why = MINIMUM[operation]
    return f"{trips} ({commands}): {why}"
