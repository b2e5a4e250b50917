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
    /// A usage wider than the column puts its help on the next line; help longer than `width`
    /// continues on lines indented to the help column (so `--help` never wraps it raggedly).
    public static func helpText(helpColumn: Int = 31, width: Int = 79) -> String {
        var lines: [String] = []
        let indent = String(repeating: " ", count: helpColumn)
        for section in helpSections {
            lines.append(section.group.rawValue + " options:")
            for option in section.options {
                let usage = "    -o " + option.usage
                var helpLines = wrap(option.help, width: max(20, width - helpColumn))
                if usage.count + 2 <= helpColumn {
                    lines.append(usage + String(repeating: " ", count: helpColumn - usage.count) + helpLines.removeFirst())
                } else {
                    lines.append(usage)
                }
                lines += helpLines.map { indent + $0 }
            }
            lines.append("")
        }
        lines.append(fstabHelpLine)
        return lines.joined(separator: "\n") + "\n"
    }

    /// Words of `text` in lines of at most `width` characters (a longer word stands alone).
    static func wrap(_ text: String, width: Int) -> [String] {
        var lines = [""]
        for word in text.split(separator: " ") {
            if !lines[lines.count - 1].isEmpty, lines[lines.count - 1].count + 1 + word.count > width {
                lines.append("")
            }
            lines[lines.count - 1] += (lines[lines.count - 1].isEmpty ? "" : " ") + word
        }
        return lines
    }

    /// `Accepted from /etc/fstab and ignored: auto, noauto, …`, wrapped to 80 columns.
    public static var fstabHelpLine: String {
        let names = descriptors.filter { $0.group == .fstab }.map(\.usage)
        var lines = [MountOptionGroup.fstab.rawValue + ":"]
        for (index, name) in names.enumerated() {
            let word = name + (index == names.count - 1 ? "" : ",")
            if lines[lines.count - 1].count + 1 + word.count > 79 { lines.append("   ") }
            lines[lines.count - 1] += " " + word
        }
        return lines.joined(separator: "\n")
    }
}
