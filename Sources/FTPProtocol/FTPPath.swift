/// Slash-separated path arithmetic for server paths, and the parsing of a PWD/MKD `257` reply.
public enum FTPPath {
    /// `base` joined with `relative`; `relative` absolute replaces base. Repeated and trailing
    /// slashes are collapsed; `.` components are dropped. `..` is kept as the server must see it,
    /// because on a server with symlinks `a/..` need not be the directory that holds `a`.
    public static func join(_ base: String, _ relative: String) -> String {
        let combined = relative.hasPrefix("/") ? relative : base + "/" + relative
        return normalize(combined)
    }

    /// An absolute path with single slashes, no `.` components and no trailing slash ("/" stays).
    public static func normalize(_ path: String) -> String {
        let parts = path.split(separator: "/", omittingEmptySubsequences: true).filter { $0 != "." }
        return "/" + parts.joined(separator: "/")
    }

    /// The parent of a normalized absolute path; "/" is its own parent.
    public static func parent(_ path: String) -> String {
        guard let slash = path.lastIndex(of: "/"), path != "/" else { return "/" }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }

    /// The last component of a normalized absolute path; "" for "/".
    public static func lastComponent(_ path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return path }
        return String(path[path.index(after: slash)...])
    }

    /// The quoted path of a `257 "/a ""quoted"" dir" is current directory` reply (RFC 959
    /// appendix II: a quote inside the name is doubled). Nil when there is no quoted name.
    ///
    /// Pure-FTPd does not double quotes (`257 "a"b" : The directory was successfully created`):
    /// when a lone quote is followed by neither a space nor the end, and a later quote is, the
    /// first cannot have closed the name, so the name runs verbatim to that later quote.
    public static func parse257(_ text: String) -> String? {
        let bytes = Array(text.utf8)
        guard let open = bytes.firstIndex(of: 0x22) else { return nil }
        func closesName(_ index: Int) -> Bool { index + 1 == bytes.count || bytes[index + 1] == 0x20 }
        var name: [UInt8] = []
        var index = open + 1
        while index < bytes.count {
            if bytes[index] == 0x22 {
                if index + 1 < bytes.count, bytes[index + 1] == 0x22 {
                    name.append(0x22)
                    index += 2
                    continue
                }
                if !closesName(index),
                    let close = bytes.indices.last(where: { $0 > index && bytes[$0] == 0x22 && closesName($0) })
                {
                    return String(decoding: bytes[(open + 1)..<close], as: UTF8.self)
                }
                return String(decoding: name, as: UTF8.self)
            }
            name.append(bytes[index])
            index += 1
        }
        return nil
    }
}
