/// What a server says it supports in its FEAT reply (RFC 2389).
///
/// ```
/// 211-Features:
///  MDTM
///  MLST type*;size*;modify*;UNIX.mode*;
///  UTF8
/// 211 End
/// ```
/// Feature names are case-insensitive; each keeps its parameters (the text after the name).
public struct FeatureSet: Hashable, Sendable {
    /// Upper-cased feature name → its parameter text (may be empty).
    public private(set) var features: [String: String]

    public init(features: [String: String] = [:]) {
        self.features = features
    }

    /// Reads a FEAT reply. A reply that is not 211 (e.g. 500 from a server without FEAT) gives an
    /// empty set.
    public init(featReply reply: Reply) {
        features = [:]
        guard reply.code == .systemStatus, reply.lines.count > 1 else { return }
        // RFC 2389: feature lines start with a space; be lenient with servers that do not indent.
        let codePrefix = "\(reply.code.rawValue)-"
        for line in reply.lines.dropFirst().dropLast() {
            // A few servers repeat the code on every line (`211-MDTM`).
            let body = line.hasPrefix(codePrefix) ? line.dropFirst(codePrefix.count) : Substring(line)
            let trimmed = body.drop(while: { $0 == " " || $0 == "\t" })
            guard !trimmed.isEmpty else { continue }
            let name = trimmed.prefix(while: { $0 != " " })
            let parameters = trimmed.dropFirst(name.count).drop(while: { $0 == " " })
            features[name.uppercased()] = String(parameters)
        }
    }

    public func contains(_ name: String) -> Bool { features[name.uppercased()] != nil }

    public func parameters(of name: String) -> String? { features[name.uppercased()] }

    public var supportsMLST: Bool { contains("MLST") }
    public var supportsUTF8: Bool { contains("UTF8") }
    public var supportsEPSV: Bool { contains("EPSV") }
    public var supportsREST: Bool { contains("REST") }
    public var supportsSIZE: Bool { contains("SIZE") }
    public var supportsMDTM: Bool { contains("MDTM") }
    public var supportsMFMT: Bool { contains("MFMT") }

    /// Facts advertised by `MLST type*;size*;modify*;`, lower-cased, without the `*` marks.
    public var mlstFacts: [String] {
        guard let parameters = parameters(of: "MLST") else { return [] }
        return parameters.split(separator: ";").map {
            String($0.trimmingCharacters(in: " *")).lowercased()
        }.filter { !$0.isEmpty }
    }

    /// Algorithms offered by `HASH SHA-256*;SHA-1;MD5;CRC32`, upper-cased; the one marked `*` is
    /// the currently selected one and comes first.
    public var hashAlgorithms: [String] {
        guard let parameters = parameters(of: "HASH") else { return [] }
        var selected: [String] = []
        var others: [String] = []
        for item in parameters.split(separator: ";") {
            let name = item.trimmingCharacters(in: " ")
            guard !name.isEmpty else { continue }
            if name.hasSuffix("*") {
                selected.append(String(name.dropLast()).uppercased())
            } else {
                others.append(name.uppercased())
            }
        }
        return selected + others
    }
}

extension StringProtocol {
    /// Drops the given characters from both ends (Foundation-free).
    func trimmingCharacters(in set: String) -> Substring {
        let characters = Set(set)
        let whole = Substring(self)
        guard let first = whole.firstIndex(where: { !characters.contains($0) }),
            let last = whole.lastIndex(where: { !characters.contains($0) })
        else { return whole[whole.endIndex...] }
        return whole[first...last]
    }
}
