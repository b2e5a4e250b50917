import FTPProtocol

/// A directory's entries as one listing returned them: in the server's order, and found by
/// name. Built as the listing arrives (no array of parsed entries beside it) and held in a
/// compact form, once each: a directory of 100,000 files costs about 150 bytes a file. The
/// file system caches it as it is.
public struct DirectoryListing: Sendable {
    /// One entry per row, in the server's order; a row whose entry was removed stays (as nil)
    /// until rows are compacted, so that removing from a large directory is not quadratic.
    private var rows: [(name: String, entry: CompactEntry?)] = []
    /// The row of each name present.
    private var index: [String: Int32] = [:]
    /// Rows whose entry was removed.
    private var vacantRows = 0
    /// Where symlinks lead, by name (few entries are links: kept apart from the rows).
    private var linkTargets: [String: String] = [:]
    /// The server said it cut the listing short.
    public var isTruncated: Bool
    /// Lines no parser understood, or entries that could not be shown.
    public var skippedLines: [String]

    public init(entries: [ListingEntry] = [], isTruncated: Bool = false, skippedLines: [String] = []) {
        rows.reserveCapacity(entries.count)
        index.reserveCapacity(entries.count)
        self.isTruncated = isTruncated
        self.skippedLines = skippedLines
        for entry in entries { _ = add(entry) }
    }

    /// The entry called `name`.
    public subscript(name: String) -> ListingEntry? {
        guard let row = index[name] else { return nil }
        return rows[Int(row)].entry?.entry(named: name, linkTarget: linkTargets[name])
    }

    /// The names in the server's order.
    public var names: [String] { rows.compactMap { $0.entry == nil ? nil : $0.name } }
    /// The entries in the server's order.
    public var entries: [ListingEntry] { (0..<rows.count).compactMap { entry(atPosition: $0) } }
    public var count: Int { index.count }
    public var isEmpty: Bool { index.isEmpty }

    /// Positions for walking the listing without copying it: `0..<positions`, each giving an
    /// entry or nil (a removed one) through `entry(atPosition:)`.
    public var positions: Int { rows.count }

    public func entry(atPosition position: Int) -> ListingEntry? {
        let row = rows[position]
        return row.entry?.entry(named: row.name, linkTarget: linkTargets[row.name])
    }

    /// Adds an entry unless an entry of that name is there already (a listing that names a
    /// file twice shows the first); returns whether it did.
    public mutating func add(_ entry: ListingEntry) -> Bool {
        guard index[entry.name] == nil else { return false }
        index[entry.name] = Int32(rows.count)
        rows.append((entry.name, CompactEntry(entry)))
        if let target = entry.linkTarget { linkTargets[entry.name] = target }
        return true
    }

    /// Sets, replaces or (nil) removes the entry called `name`.
    public mutating func set(_ entry: ListingEntry?, named name: String) {
        linkTargets[name] = entry?.linkTarget
        if let row = index[name] {
            if let entry {
                rows[Int(row)].entry = CompactEntry(entry)
            } else {
                rows[Int(row)].entry = nil
                index[name] = nil
                vacantRows += 1
                if vacantRows > 1024, vacantRows > rows.count / 2 { compact() }
            }
        } else if let entry {
            index[name] = Int32(rows.count)
            rows.append((name, CompactEntry(entry)))
        }
    }

    /// Drops the rows of removed entries.
    private mutating func compact() {
        rows.removeAll { $0.entry == nil }
        index.removeAll(keepingCapacity: true)
        for (position, row) in rows.enumerated() { index[row.name] = Int32(position) }
        vacantRows = 0
    }
}

/// A listing entry without its name (the row's), its link target (kept apart) and the facts
/// nobody uses (MLSD's `perm` and `unique`), optionals folded into sentinels: 32 bytes instead
/// of 112.
struct CompactEntry: Sendable {
    private let kind: ListingEntry.Kind
    private let size: UInt64
    private let seconds: Int64
    private let nanoseconds: Int32
    private let mode: UInt32

    private static let noMode = UInt32.max
    private static let noTime = Int32.min

    init(_ entry: ListingEntry) {
        kind = entry.kind
        size = entry.size ?? .max
        seconds = entry.modified?.seconds ?? 0
        nanoseconds = entry.modified?.nanoseconds ?? Self.noTime
        mode = entry.mode ?? Self.noMode
    }

    func entry(named name: String, linkTarget: String?) -> ListingEntry {
        ListingEntry(name: name, kind: kind, size: size == .max ? nil : size,
                     modified: nanoseconds == Self.noTime ? nil : FTPTimestamp(seconds: seconds, nanoseconds: nanoseconds),
                     mode: mode == Self.noMode ? nil : mode, linkTarget: linkTarget)
    }
}
