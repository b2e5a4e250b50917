import ThreadSupport

/// The writers by path: every handle that writes a path shares its `FileWriter`.
///
/// Lock order: the table's lock is a leaf, never held while taking a writer's lock.
final class WriterTable: @unchecked Sendable {
    private let lock = ConditionLock()
    private var writers: [String: FileWriter] = [:]

    func writer(for path: String) -> FileWriter? {
        lock.withLock { writers[path] }
    }

    /// The writer for `path`, created by `make` when there is none, with one more handle.
    func attach(_ path: String, make: () -> FileWriter) -> FileWriter {
        lock.withLock {
            let writer = writers[path] ?? make()
            writers[path] = writer
            writer.handles += 1
            return writer
        }
    }

    /// Drops one handle; returns true when it was the last (the caller then finishes up).
    func detach(_ writer: FileWriter) -> Bool {
        lock.withLock {
            writer.handles -= 1
            guard writer.handles <= 0 else { return false }
            if let path = writers.first(where: { $0.value === writer })?.key { writers.removeValue(forKey: path) }
            return true
        }
    }

    /// Takes `path` away from `writer`: the name was unlinked or replaced, so a lookup of the
    /// path must not find the writer any more (a new file there gets a new one). Handles still
    /// open keep the writer until they close.
    func disown(_ path: String, from writer: FileWriter) {
        lock.withLock {
            if writers[path] === writer { writers.removeValue(forKey: path) }
        }
    }

    /// Moves writers at or below `source` to their new paths. The table is re-keyed under its
    /// own lock; each writer's paths change under the writer's lock, taken afterwards (never
    /// the table's lock inside a writer's).
    func rename(_ source: String, to destination: String, serverPath: (String) -> String) {
        let prefix = source + "/"
        let moved = lock.withLock { () -> [(FileWriter, String)] in
            var moved: [(FileWriter, String)] = []
            for (path, writer) in writers where path == source || path.hasPrefix(prefix) {
                writers.removeValue(forKey: path)
                let newPath = destination + path.dropFirst(source.count)
                writers[newPath] = writer
                moved.append((writer, newPath))
            }
            return moved
        }
        for (writer, newPath) in moved {
            writer.lock.withLock { writer.rename(to: newPath, serverPath: serverPath(newPath)) }
        }
    }

    func all() -> [FileWriter] {
        lock.withLock { Array(writers.values) }
    }
}
