import Foundation
import Testing
import TestSupport

/// Directory walks through the mount: `ls -lR` and `find` list the tree ahead of themselves on
/// several connections at once, each directory once, and show exactly what the server has.
/// Names a fresh listing lacks are missing without a round trip, and the kernel remembers them.
@Suite(.serialized, .enabled(if: TestRequirements.canRun(.fuse, .pyftpdlib)))
struct WalkMountTests {
    /// Four top-level directories with names a LIST argument would glob or take for an option,
    /// each with three subdirectories of two files, and files at every level: 17 directories.
    static func makeTree() throws -> String {
        let root = try TestDirectory.make("walk")
        let tops = ["top 0", "top[1]", "-top2", "top*3"]
        let subs = ["sub a", "sub[b]", "c"]
        var size = 0
        func file(_ path: String) throws {
            size = (size * 7 + 13) % 3000
            try Data(repeating: 0x61, count: size).write(to: URL(fileURLWithPath: path))
        }
        try file(root + "/at-root.txt")
        for top in tops {
            for sub in subs {
                let directory = root + "/" + top + "/" + sub
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
                try file(directory + "/one.bin")
                try file(directory + "/two words.txt")
            }
            try file(root + "/" + top + "/in-top.txt")
        }
        return root
    }

    /// `ls -lRn` reduced to what must match: each directory heading (relative to `base`) and each
    /// entry's type, size (for files) and name, in order.
    static func lsShape(_ base: String) throws -> [String] {
        let result = try Shell.run(["ls", "-lRn", "--time-style=+T", base], timeout: .seconds(120),
                                   environment: ["LC_ALL": "C"]).check()
        var shape: [String] = []
        for line in result.stdout.split(separator: "\n", omittingEmptySubsequences: true) {
            if line.hasSuffix(":"), line.hasPrefix(base) {
                shape.append("[" + line.dropFirst(base.count).dropLast() + "]")
                continue
            }
            // mode links uid gid size T name
            let fields = line.split(separator: " ", maxSplits: 6, omittingEmptySubsequences: true)
            guard fields.count == 7, let type = fields[0].first else { continue }
            shape.append(type == "-" ? "- \(fields[4]) \(fields[6])" : "\(type) \(fields[6])")
        }
        return shape
    }

    static func findShape(_ base: String) throws -> [String] {
        let files = try Shell.run(["find", base, "-type", "f", "-printf", "f %s %P\n"], timeout: .seconds(120)).check()
        let directories = try Shell.run(["find", base, "-type", "d", "-printf", "d %P\n"], timeout: .seconds(120)).check()
        return (files.stdout + directories.stdout).split(separator: "\n").map(String.init).sorted()
    }

    /// The directories each listing command (LIST, NLST, MLSD) listed, from the server's log lines
    /// after the first `from` ones: a connection lists the directory it last changed into.
    static func listedDirectories(_ server: FTPTestServer, from: Int) -> [String] {
        var current: [Substring: String] = [:]
        var listed: [String] = []
        for line in server.log().split(separator: "\n").dropFirst(from) {
            guard let arrow = line.range(of: " <- "), let start = line.range(of: "] ") else { continue }
            let connection = line[start.upperBound..<arrow.lowerBound]
            let command = line[arrow.upperBound...]
            if command.hasPrefix("CWD ") {
                current[connection] = String(command.dropFirst(4))
            } else if command.hasPrefix("MLSD") || command.hasPrefix("LIST") || command.hasPrefix("NLST") {
                listed.append(current[connection] ?? "?")
            }
        }
        return listed
    }

    /// The most listings the server had waiting at once, from the list-delay quirk's log lines.
    static func mostListingsAtOnce(_ server: FTPTestServer, from: Int) -> Int {
        server.log().split(separator: "\n").dropFirst(from).compactMap { line -> Int? in
            guard let marker = line.range(of: "listings waiting: ") else { return nil }
            return Int(line[marker.upperBound...])
        }.max() ?? 0
    }

    @Test(arguments: [true, false])
    func aWalkIsListedAheadInParallelAndShowsTheTreeAsItIs(machineListing: Bool) throws {
        try TestRequirements.require(.fuse, .pyftpdlib)
        let root = try Self.makeTree()
        defer { TestDirectory.cleanUp(root) }
        // Every listing takes 0.2 s: listings made at the same time overlap at the server.
        let server = try FTPTestServer.startPyftpdlib(root: root, users: [.standard], noMLSD: !machineListing,
                                                      quirks: ["list-delay=0.2"])
        defer { server.stop() }
        let directories = try Self.findShape(root).filter { $0.hasPrefix("d ") }.map { line in
            line == "d " ? "/" : "/" + line.dropFirst(2)
        }.sorted()
        #expect(directories.count == 17)

        for tool in ["ls -lR", "find"] {
            let logStart = server.log().split(separator: "\n").count
            try TestMount.withMount(url: server.url(), options: ["max_conns=4"]) { mount in
                let shown = tool == "ls -lR" ? try Self.lsShape(mount.mountpoint) : try Self.findShape(mount.mountpoint)
                let expected = tool == "ls -lR" ? try Self.lsShape(root) : try Self.findShape(root)
                #expect(shown == expected)
                #expect(shown.count > 17)
            }
            // Several listings at once, and each directory listed once: the walk used the
            // listings made ahead of it, or waited for those under way, rather than listing again.
            #expect(Self.mostListingsAtOnce(server, from: logStart) >= 2, "\(tool): no listings overlapped")
            let listed = Self.listedDirectories(server, from: logStart)
            #expect(listed.sorted() == directories, "\(tool) listed \(listed)")
        }
    }

    @Test func aNameMissingFromAFreshListingIsMissingWithoutAskingTheServer() throws {
        try TestRequirements.require(.fuse, .pyftpdlib)
        let root = try TestDirectory.make("negative")
        defer { TestDirectory.cleanUp(root) }
        try FileManager.default.createDirectory(atPath: root + "/d", withIntermediateDirectories: true)
        try Data("here\n".utf8).write(to: URL(fileURLWithPath: root + "/d/present.txt"))
        // MLST is on offer: without the listing, a lookup would cost an MLST.
        let server = try FTPTestServer.startPyftpdlib(root: root, users: [.standard])
        defer { server.stop() }
        // entry_timeout=30: the kernel then keeps missing names 30 s too (negative_timeout follows
        // it unless given), far longer than this test's three lookups take.
        try TestMount.withMount(url: server.url(), options: ["entry_timeout=30", "debug"]) { mount in
            try Shell.run(["ls", mount.path("d")], timeout: .seconds(30)).check()
            let before = server.receivedCommands()
            let script = "for i in 1 2 3; do stat \(Shell.quote(mount.path("d/missing.txt"))) 2>&1; done"
            let lookups = try Shell.run(["bash", "-c", script], timeout: .seconds(30))
            #expect(lookups.stdout.components(separatedBy: "No such file or directory").count == 4, "\(lookups.stdout)")
            #expect(server.receivedCommands() == before, "a lookup went to the server")
            // libfuse's debug log: the kernel asked once, then answered from its negative entry.
            let asked = mount.stderr.components(separatedBy: "LOOKUP /d/missing.txt").count - 1
            #expect(asked == 1, "the kernel looked d/missing.txt up \(asked) times")
            // Creating the name through the mount replaces the negative entry at once.
            try Shell.run(["bash", "-c", "echo new > \(Shell.quote(mount.path("d/missing.txt")))"],
                          timeout: .seconds(30)).check()
            let created = try Shell.run(["cat", mount.path("d/missing.txt")], timeout: .seconds(30)).check()
            #expect(created.stdout == "new\n")
        }
    }
}
