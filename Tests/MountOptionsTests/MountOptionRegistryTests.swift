@testable import MountOptions
import Testing

@Suite struct MountOptionRegistryTests {
    /// Two rows for one spelling would make lookup depend on table order. `user` is the one name
    /// with two rows, and they differ in taking a value.
    @Test func namesAreUnique() {
        var seen: Set<String> = []
        for descriptor in MountOptionRegistry.descriptors {
            let key = descriptor.usage.split(separator: "=").first.map(String.init)! + (descriptor.takesValue ? "=" : "")
            #expect(!seen.contains(key), "duplicate option \(descriptor.usage)")
            seen.insert(key)
        }
        #expect(seen.contains("user") && seen.contains("user="))
    }

    @Test func everyOptionOutsideFstabHasHelp() {
        for descriptor in MountOptionRegistry.descriptors where descriptor.group != .fstab {
            #expect(!descriptor.help.isEmpty, "\(descriptor.usage) has no help")
            #expect(!descriptor.help.contains("\n"))
        }
    }

    @Test func groupsMatchConsumers() {
        for descriptor in MountOptionRegistry.descriptors {
            switch descriptor.consumer {
            case .ignored: #expect(descriptor.group == .fstab)
            case .libfuse: #expect(descriptor.group == .mount || descriptor.group == .logging)
            case .ftpfs: #expect(descriptor.group != .fstab)
            }
        }
    }

    @Test func helpListsEveryGroupAndOption() {
        let help = MountOptionRegistry.helpText()
        for title in ["FTP connection options:", "TLS options:", "Caching options:", "Uploads options:",
                      "FUSE and mount options:", "Logging options:"] {
            #expect(help.contains(title + "\n"), "missing \(title)")
        }
        func line(_ usage: String, _ text: String) -> String {
            usage + String(repeating: " ", count: 31 - usage.count) + text + "\n"
        }
        #expect(help.contains(line("    -o max_conns=N", "simultaneous FTP connections (4)")))
        #expect(help.contains(line("    -o allow_other", "allow access by all users (default_permissions)")))
        #expect(help.contains("    -o tls_fingerprint=SHA256:HEX\n"
            + String(repeating: " ", count: 31) + "accept only this certificate (SHA-256)\n"))
        #expect(help.hasSuffix("""
            Accepted from /etc/fstab and ignored: auto, noauto, user, users, nouser, owner,
                group, _netdev, nofail, defaults, comment=TEXT, x-*

            """))
        for descriptor in MountOptionRegistry.descriptors where descriptor.group != .fstab {
            #expect(help.contains("-o " + descriptor.usage), "help lacks \(descriptor.usage)")
        }
    }

    @Test func helpFitsEightyColumns() {
        for line in MountOptionRegistry.helpText().split(separator: "\n") {
            #expect(line.count <= 80, "too wide: \(line)")
        }
    }

    @Test func helpSectionsFollowGroupOrder() {
        #expect(MountOptionRegistry.helpSections.map(\.group) == [
            .connection, .tls, .caching, .uploads, .mount, .logging,
        ])
        #expect(MountOptionRegistry.helpSections.allSatisfy { !$0.options.isEmpty })
    }

    @Test(arguments: [
        ("SHA256:" + String(repeating: "AB:", count: 31) + "AB", true),
        ("sha256:" + String(repeating: "ab", count: 32), true),
        (String(repeating: "01", count: 32), true),
        (String(repeating: "01:", count: 31) + "01", true),
        (String(repeating: "01", count: 31) + ":01", false),
        (String(repeating: "0", count: 65), false),
        (String(repeating: "ab:", count: 32), false),
        ("SHA1:" + String(repeating: "ab", count: 32), false),
        ("", false),
    ])
    func fingerprintForms(_ text: String, _ valid: Bool) {
        #expect((CertificateFingerprint(parsing: text) != nil) == valid)
    }

    @Test func fingerprintPrintsAsOpenSSLDoes() throws {
        let fingerprint = try #require(CertificateFingerprint(parsing: "0a" + String(repeating: "ff", count: 31)))
        #expect(fingerprint.description == "SHA256:0A:" + Array(repeating: "FF", count: 31).joined(separator: ":"))
    }

    @Test(arguments: [
        ("0", Duration.zero), ("1", .seconds(1)), ("1.", .seconds(1)), ("0.000000001", .nanoseconds(1)),
        ("2.25", .milliseconds(2250)), ("1000000000", .seconds(1_000_000_000)),
        ("0.1234567890123456789", Duration(secondsComponent: 0, attosecondsComponent: 123_456_789_012_345_678)),
    ])
    func durationsAreExact(_ text: String, _ expected: Duration) {
        #expect(OptionValueParser.duration(text, allowsZero: true) == expected)
    }

    @Test func logLevelsOrderMostVerboseFirst() {
        #expect(LogLevel.allCases.sorted() == [.trace, .debug, .info, .notice, .warning, .error, .critical])
        #expect(LogLevel.debug < .info)
    }
}
