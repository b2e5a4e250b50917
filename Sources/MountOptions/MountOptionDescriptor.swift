/// The sections `--help` prints the options in, in this order.
public enum MountOptionGroup: String, Sendable, Hashable, CaseIterable {
    case connection = "FTP connection"
    case tls = "TLS"
    case caching = "Caching"
    case uploads = "Uploads"
    case mount = "FUSE and mount"
    case logging = "Logging"
    /// mount(8) bookkeeping that reaches us through mount.fuse3; accepted and ignored.
    case fstab = "Accepted from /etc/fstab and ignored"
}

/// Who consumes an option.
public enum OptionConsumer: Sendable, Hashable {
    /// ftpfs alone: recorded in ``MountConfiguration``, never shown to libfuse.
    case ftpfs
    /// libfuse, through the given route; ftpfs may record it too.
    case libfuse(FuseOptionRoute)
    /// Nobody: fstab bookkeeping, dropped.
    case ignored
}

/// One row of the option table: what the option is called, what value it takes, who consumes
/// it, its help line, and how its value lands in ``MountConfiguration``.
public struct MountOptionDescriptor: Sendable {
    public enum Name: Sendable, Hashable {
        /// The option is exactly this word.
        case exact(String)
        /// Any option starting with this text (`x-` for `x-systemd.automount`, `x-gvfs-show`).
        case prefix(String)
    }

    public let name: Name
    public let kind: OptionValueKind
    /// The word standing for the value in `--help`: `max_conns=N`.
    public let placeholder: String?
    public let group: MountOptionGroup
    public let consumer: OptionConsumer
    /// One line for `--help`; defaults go at the end in parentheses.
    public let help: String
    /// Reads the value and returns how it changes the configuration; nil when the value is bad.
    let interpret: @Sendable (String?) -> (@Sendable (inout MountConfiguration) -> Void)?

    /// Whether the option is written `name=value` (as opposed to a bare flag).
    public var takesValue: Bool {
        switch kind {
        case .flag: false
        case .ignored: false
        default: true
        }
    }

    /// How `--help` shows the option: `max_conns=N`, `allow_other`, `x-*`.
    public var usage: String {
        switch name {
        case .exact(let word): placeholder.map { word + "=" + $0 } ?? word
        case .prefix(let start): start + "*"
        }
    }

    func matches(_ optionName: String) -> Bool {
        switch name {
        case .exact(let word): optionName == word
        case .prefix(let start): optionName.hasPrefix(start)
        }
    }
}

// MARK: - Builders, one per value kind, so each row of the table stays one readable line.

typealias ConfigurationUpdate = @Sendable (inout MountConfiguration) -> Void

/// The update that stores a parsed value, or nil when the value did not parse.
private func updating<Value: Sendable>(
    _ value: Value?, with set: @escaping @Sendable (inout MountConfiguration, Value) -> Void
) -> ConfigurationUpdate? {
    guard let value else { return nil }
    return { configuration in set(&configuration, value) }
}

extension MountOptionDescriptor {
    static func flag(
        _ name: String, _ group: MountOptionGroup, _ consumer: OptionConsumer = .ftpfs, help: String,
        set: @escaping ConfigurationUpdate = { _ in }
    ) -> MountOptionDescriptor {
        MountOptionDescriptor(
            name: .exact(name), kind: .flag, placeholder: nil, group: group, consumer: consumer, help: help,
            interpret: { _ in set })
    }

    static func integer(
        _ name: String, _ range: ClosedRange<Int>, placeholder: String = "N", _ group: MountOptionGroup,
        _ consumer: OptionConsumer = .ftpfs, help: String,
        set: @escaping @Sendable (inout MountConfiguration, Int) -> Void = { _, _ in }
    ) -> MountOptionDescriptor {
        MountOptionDescriptor(
            name: .exact(name), kind: .integer(range), placeholder: placeholder, group: group, consumer: consumer,
            help: help,
            interpret: { text in
                updating(OptionValueParser.integer(text ?? "", in: range), with: set)
            })
    }

    static func octal(
        _ name: String, _ range: ClosedRange<Int>, placeholder: String, _ group: MountOptionGroup,
        _ consumer: OptionConsumer = .ftpfs, help: String,
        set: @escaping @Sendable (inout MountConfiguration, Int) -> Void
    ) -> MountOptionDescriptor {
        MountOptionDescriptor(
            name: .exact(name), kind: .octal(range), placeholder: placeholder, group: group, consumer: consumer,
            help: help,
            interpret: { text in
                updating(OptionValueParser.octal(text ?? "", in: range), with: set)
            })
    }

    static func size(
        _ name: String, _ group: MountOptionGroup, help: String,
        set: @escaping @Sendable (inout MountConfiguration, Int) -> Void
    ) -> MountOptionDescriptor {
        MountOptionDescriptor(
            name: .exact(name), kind: .size, placeholder: "SIZE", group: group, consumer: .ftpfs, help: help,
            interpret: { text in updating(OptionValueParser.size(text ?? ""), with: set) })
    }

    static func duration(
        _ name: String, allowsZero: Bool, _ group: MountOptionGroup, _ consumer: OptionConsumer = .ftpfs,
        help: String, set: @escaping @Sendable (inout MountConfiguration, Duration) -> Void
    ) -> MountOptionDescriptor {
        MountOptionDescriptor(
            name: .exact(name), kind: .duration(allowsZero: allowsZero), placeholder: "SECS", group: group,
            consumer: consumer, help: help,
            interpret: { text in
                updating(OptionValueParser.duration(text ?? "", allowsZero: allowsZero), with: set)
            })
    }

    static func string(
        _ name: String, placeholder: String, _ group: MountOptionGroup, _ consumer: OptionConsumer = .ftpfs,
        help: String, set: @escaping @Sendable (inout MountConfiguration, String) -> Void = { _, _ in }
    ) -> MountOptionDescriptor {
        MountOptionDescriptor(
            name: .exact(name), kind: .string, placeholder: placeholder, group: group, consumer: consumer,
            help: help,
            interpret: { text in updating(OptionValueParser.string(text ?? ""), with: set) })
    }

    /// An option whose value is one of `choices`; several words may mean the same value.
    static func choice<Value: Sendable>(
        _ name: String, _ choices: KeyValuePairs<String, Value>, placeholder: String? = nil,
        _ group: MountOptionGroup, help: String,
        set: @escaping @Sendable (inout MountConfiguration, Value) -> Void
    ) -> MountOptionDescriptor {
        let table = choices.map { ($0.key, $0.value) }
        let words = table.map(\.0)
        return MountOptionDescriptor(
            name: .exact(name), kind: .choice(words), placeholder: placeholder ?? words.joined(separator: "|"),
            group: group, consumer: .ftpfs, help: help,
            interpret: { text in
                updating(table.first(where: { $0.0 == text })?.1, with: set)
            })
    }

    static func fingerprint(
        _ name: String, _ group: MountOptionGroup, help: String,
        set: @escaping @Sendable (inout MountConfiguration, CertificateFingerprint) -> Void
    ) -> MountOptionDescriptor {
        MountOptionDescriptor(
            name: .exact(name), kind: .fingerprint, placeholder: "SHA256:HEX", group: group, consumer: .ftpfs,
            help: help,
            interpret: { text in updating(CertificateFingerprint(parsing: text ?? ""), with: set) })
    }

    /// fstab bookkeeping: accepted with or without a value, then dropped.
    static func fstab(_ name: Name, placeholder: String? = nil) -> MountOptionDescriptor {
        MountOptionDescriptor(
            name: name, kind: .ignored, placeholder: placeholder, group: .fstab, consumer: .ignored, help: "",
            interpret: { _ in { _ in } })
    }

    /// An fstab flag that must be bare: `user` without a value, as opposed to our `user=NAME`.
    static func fstabFlag(_ name: String) -> MountOptionDescriptor {
        MountOptionDescriptor(
            name: .exact(name), kind: .flag, placeholder: nil, group: .fstab, consumer: .ignored, help: "",
            interpret: { _ in { _ in } })
    }
}
