import Foundation

extension FTPTestServer {
    /// Starts Tests/Servers/ftp_server.py (pyftpdlib) with Debian's python3.
    ///
    /// - Parameters:
    ///   - root: directory to serve; nil creates an empty one that `stop()` removes.
    ///   - users: logins with full permissions; the first is the URLs' default.
    ///   - anonymous: also accept read-only anonymous logins.
    ///   - ipv6: listen on ::1 instead of 127.0.0.1.
    ///   - noMLSD: neither advertise nor accept MLST/MLSD (LIST only).
    ///   - quirks: misbehaviours, "NAME" or "NAME=VALUE" (see ftp_server.py
    ///     --help): "stor-552", "max-conns=N", …
    ///   - passivePorts: restrict passive data ports to this range.
    ///   - tls: offer FTPS (pyftpdlib's TLS_FTPHandler) with this certificate.
    public static func startPyftpdlib(
        root: String? = nil,
        users: [FTPTestUser] = [.standard],
        anonymous: Bool = false,
        ipv6: Bool = false,
        noMLSD: Bool = false,
        quirks: [String] = [],
        passivePorts: ClosedRange<Int>? = nil,
        tls: TestServerTLS? = nil,
        startTimeout: Duration = .seconds(20)
    ) throws -> FTPTestServer {
        guard !users.isEmpty || anonymous else {
            throw TestSupportError("startPyftpdlib needs at least one user or anonymous: true")
        }
        let script = try serverScript
        let workDirectory = try TestDirectory.make("pyftpdlib")
        var servedRoot = root ?? workDirectory + "/root"
        do {
            if root == nil {
                try FileManager.default.createDirectory(atPath: servedRoot, withIntermediateDirectories: false)
            }
            servedRoot = URL(fileURLWithPath: servedRoot).resolvingSymlinksInPath().path
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: servedRoot, isDirectory: &isDirectory), isDirectory.boolValue else {
                throw TestSupportError("pyftpdlib root \(servedRoot) is not a directory")
            }

            let host = ipv6 ? "::1" : "127.0.0.1"
            let logPath = workDirectory + "/ftp.log"
            var arguments = [python, script, "--host", host, "--port", "0", "--root", servedRoot, "--log", logPath]
            for user in users { arguments += ["--user", "\(user.name):\(user.password)"] }
            if anonymous { arguments.append("--anonymous") }
            if noMLSD { arguments.append("--no-mlsd") }
            for quirk in quirks { arguments += ["--quirk", quirk] }
            if let passivePorts {
                arguments += ["--passive-ports", "\(passivePorts.lowerBound)-\(passivePorts.upperBound)"]
            }
            if let tls {
                arguments += ["--tls-cert", tls.certificate.certificatePath, "--tls-key", tls.certificate.keyPath]
                if tls.implicit { arguments.append("--tls-implicit") }
                if tls.required { arguments.append("--tls-required") }
            }

            let stdoutPath = workDirectory + "/stdout"
            let stderrPath = workDirectory + "/stderr"
            let process = try ChildProcess(
                arguments: arguments,
                environment: ["PYTHONUNBUFFERED": "1", "PYTHONDONTWRITEBYTECODE": "1"],
                stdoutPath: stdoutPath,
                stderrPath: stderrPath,
                killWithTestProcess: true
            )
            let deadline = ContinuousClock.now + startTimeout
            let port = try waitForPortLine(process: process, stdoutPath: stdoutPath, stderrPath: stderrPath,
                                           until: deadline)
            let greeting = try waitForGreeting(process: process, name: "pyftpdlib", host: host, port: port,
                                               implicitTLS: tls?.implicit == true, stderrPath: stderrPath,
                                               until: deadline)
            return FTPTestServer(
                kind: .pyftpdlib, host: host, port: port, root: servedRoot, ownsRoot: root == nil,
                user: users.first, users: users, allowsAnonymous: anonymous,
                workDirectory: workDirectory, logPath: logPath, process: process, greeting: greeting)
        } catch {
            TestDirectory.cleanUp(workDirectory)
            throw error
        }
    }

    /// ftp_server.py prints "PORT <n>" once it listens.
    private static func waitForPortLine(process: ChildProcess, stdoutPath: String, stderrPath: String,
                                        until deadline: ContinuousClock.Instant) throws -> Int {
        while ContinuousClock.now < deadline {
            let output = read(stdoutPath)
            if let line = output.split(separator: "\n").first(where: { $0.hasPrefix("PORT ") }),
               let port = Int(line.dropFirst(5).trimmingCharacters(in: .whitespaces)) {
                return port
            }
            if let status = process.status {
                throw TestSupportError(
                    "pyftpdlib (\(process.arguments.joined(separator: " "))) exited (\(status)) before listening.\n"
                        + "--- its stderr:\n\(tail(read(stderrPath)))")
            }
            sleep(for: .milliseconds(20))
        }
        process.terminate(grace: .seconds(2))
        throw TestSupportError("pyftpdlib did not report its port in time.\n--- its stderr:\n\(tail(read(stderrPath)))")
    }
}
