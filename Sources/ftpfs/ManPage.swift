import ArgumentParser
import MountOptions

/// The parts of ftpfs(1) that come from ftpfs's own tables, so the man page never drifts from
/// `--help`: Packaging/build-deb.sh runs `ftpfs --man-section options` and
/// `ftpfs --man-section exit-status` and puts their roff into Packaging/ftpfs.1.in.
enum ManPage {
    enum Section: String, ExpressibleByArgument, CaseIterable {
        case options
        case exitStatus = "exit-status"
    }

    static func render(_ section: Section) -> String {
        switch section {
        case .options: optionsSection
        case .exitStatus: exitStatusSection
        }
    }

    /// One `.SS` per option group, one `.TP` per option: `.B \-o max_conns=N` and its help.
    static var optionsSection: String {
        var lines: [String] = []
        for section in MountOptionRegistry.helpSections {
            lines.append(".SS \"" + escape(section.group.rawValue) + " options\"")
            for option in section.options {
                lines.append(".TP")
                lines.append(".B \\-o " + escape(option.usage))
                lines.append(escape(option.help))
            }
        }
        let ignored = MountOptionRegistry.descriptors.filter { $0.group == .fstab }.map(\.usage)
        lines.append(".SS \"" + escape(MountOptionGroup.fstab.rawValue) + "\"")
        lines.append(".PP")
        lines.append(escape(ignored.joined(separator: ", ")) + ".")
        return lines.joined(separator: "\n") + "\n"
    }

    /// `.TP` / `.B 64` / text, for every status in ``ExitStatus``.
    static var exitStatusSection: String {
        var lines: [String] = []
        for status in ExitStatus.allCases {
            lines.append(".TP")
            lines.append(".B \(status.rawValue)")
            lines.append(escape(status.documentation))
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// Text safe in roff: backslashes and hyphens escaped, no line starting with a control
    /// character.
    static func escape(_ text: String) -> String {
        var escaped = text.replacingBackslashes().replacingHyphens()
        if escaped.hasPrefix(".") || escaped.hasPrefix("'") { escaped = "\\&" + escaped }
        return escaped
    }
}

private extension String {
    func replacingBackslashes() -> String {
        var result = ""
        for character in self { result += character == "\\" ? "\\e" : String(character) }
        return result
    }

    func replacingHyphens() -> String {
        var result = ""
        for character in self { result += character == "-" ? "\\-" : String(character) }
        return result
    }
}
