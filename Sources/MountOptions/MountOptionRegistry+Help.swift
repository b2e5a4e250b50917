extension MountOptionRegistry {
    /// One section of `--help`: a group title and its options, in table order.
    public struct HelpSection: Sendable {
        public var group: MountOptionGroup
        public var options: [MountOptionDescriptor]
    }

    /// The sections `--help` prints, in ``MountOptionGroup`` order, without the fstab group
    /// (``fstabHelpLine`` summarises it).
    public static var helpSections: [HelpSection] {
        MountOptionGroup.allCases.filter { $0 != .fstab }.map { group in
            HelpSection(group: group, options: descriptors.filter { $0.group == group })
        }
    }

    /// The `-o` part of `--help`, in the layout libfuse's own help uses:
    ///
    ///     FTP connection options:
    ///         -o max_conns=N             simultaneous FTP connections (4)
    ///
    /// A usage wider than the column puts its help on the next line.
    public static func helpText(helpColumn: Int = 31) -> String {
        var lines: [String] = []
        for section in helpSections {
            lines.append(section.group.rawValue + " options:")
            for option in section.options {
                let usage = "    -o " + option.usage
                if usage.count + 2 <= helpColumn {
                    lines.append(usage + String(repeating: " ", count: helpColumn - usage.count) + option.help)
                } else {
                    lines.append(usage)
                    lines.append(String(repeating: " ", count: helpColumn) + option.help)
                }
            }
            lines.append("")
        }
        lines.append(fstabHelpLine)
        return lines.joined(separator: "\n") + "\n"
    }

    /// `Accepted from /etc/fstab and ignored: auto, noauto, …`, wrapped to 80 columns.
    public static var fstabHelpLine: String {
        let names = descriptors.filter { $0.group == .fstab }.map(\.usage)
        var lines = [MountOptionGroup.fstab.rawValue + ":"]
        for (index, name) in names.enumerated() {
            let word = name + (index == names.count - 1 ? "" : ",")
            if lines[lines.count - 1].count + 1 + word.count > 80 { lines.append("   ") }
            lines[lines.count - 1] += " " + word
        }
        return lines.joined(separator: "\n")
    }
}
