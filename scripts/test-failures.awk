#!/usr/bin/awk -f
# Prints what a `swift test` log says about failures: Swift Testing's "recorded an issue" lines
# with the "↳" lines that follow them, XCTest's "error:" lines, and crashes; each suite's and
# test's "✘" summary line last.
/recorded an issue|: error: |Fatal error|Crash|signal code/ { print; following = 1; next }
following && /^↳/ { print; next }
{ following = 0 }
/^✘ (Test|Suite)/ && !/recorded an issue/ { summaries[++count] = $0 }
END { for (i = 1; i <= count; i++) print summaries[i] }
