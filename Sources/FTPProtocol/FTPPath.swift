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
    public static func parse257(_ text: String) -> String? {
        guard let open = text.firstIndex(of: "\"") else { return nil }
        var result = ""
        var index = text.index(after: open)
        while index < text.endIndex {
            let character = text[index]
            if character == "\"" {
                let next = text.index(after: index)
                if next < text.endIndex, text[next] == "\"" {
                    result.append("\"")
                    index = text.index(after: next)
                    continue
                }
                return result
            }
            result.append(character)
            index = text.index(after: index)
        }
        return nil
    }
}
