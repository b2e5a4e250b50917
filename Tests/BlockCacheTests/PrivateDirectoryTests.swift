import Foundation
import Testing

@testable import BlockCache

#if canImport(Glibc)
import Glibc
#endif

/// The cache directory must be the mounting user's alone, as ssh wants `~/.ssh`: created 0700
/// when missing, refused when another user owns it, can write it, planted a symlink in its
/// place, or could swap it through a directory above it.
struct PrivateDirectoryTests {
    func withScratch(_ body: (String) throws -> Void) throws {
        // /tmp is sticky: a directory in it cannot be swapped by other users.
        let scratch = "/tmp/ftpfs-private-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: false)
        chmod(scratch, 0o700)
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        try body(scratch)
    }

    /// A directory that belongs to someone else: made and given to nobody when running as root,
    /// else one of root's.
    func foreignDirectory(in scratch: String) throws -> String {
        guard geteuid() == 0 else { return "/usr" }
        let path = scratch + "/planted"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
        chmod(path, 0o777)
        #expect(chown(path, 65534, 65534) == 0)
        return path
    }

    func refusal(_ path: String) -> PrivateDirectory.Refusal? {
        do {
            try PrivateDirectory.prepare(path)
            return nil
        } catch {
            return error
        }
    }

    @Test func aMissingDirectoryIsCreatedPrivate() throws {
        try withScratch { scratch in
            let path = scratch + "/cache"
            let previous = umask(0)  // whatever the umask, the directory is 0700
            defer { umask(previous) }
            try PrivateDirectory.prepare(path)
            var info = stat()
            #expect(stat(path, &info) == 0)
            #expect(info.st_mode & 0o777 == 0o700)
            #expect(info.st_uid == geteuid())
            try PrivateDirectory.prepare(path)  // and again: it exists, it is fine
        }
    }

    @Test func aDirectoryAnotherUserOwnsIsRefused() throws {
        try withScratch { scratch in
            let foreign = try foreignDirectory(in: scratch)
            let refused = try #require(refusal(foreign))
            #expect(refused.description.hasPrefix("cannot use \(foreign): it belongs to "))
            #expect(refused.description.contains("not to you"))
        }
    }

    @Test func aDirectoryOthersCanWriteIsRefused() throws {
        try withScratch { scratch in
            for mode: mode_t in [0o770, 0o707, 0o1777] {
                let path = scratch + "/shared-\(String(mode, radix: 8))"
                try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
                chmod(path, mode)
                let refused = try #require(refusal(path), "mode \(String(mode, radix: 8))")
                #expect(refused.reason.contains("other users can write to it"))
                #expect(refused.reason.contains("chmod 700"))
            }
        }
    }

    @Test func aSymlinkAnotherUserPlantedIsNotFollowed() throws {
        try withScratch { scratch in
            let target = scratch + "/mine"
            try PrivateDirectory.prepare(target)
            let link = scratch + "/cache"
            #expect(symlink(target, link) == 0)
            try PrivateDirectory.prepare(link)  // a link of one's own is followed
            if geteuid() == 0 {
                #expect(lchown(link, 65534, 65534) == 0)
                let refused = try #require(refusal(link))
                #expect(refused.reason.contains("symlink made by nobody"))
            }
            // A link to someone else's directory is refused for the directory.
            let foreign = try foreignDirectory(in: scratch)
            unlink(link)
            #expect(symlink(foreign, link) == 0)
            #expect(refusal(link) != nil)
        }
    }

    @Test func aDirectoryInsideOneOthersCanWriteIsRefused() throws {
        try withScratch { scratch in
            let open = scratch + "/open"
            try FileManager.default.createDirectory(atPath: open, withIntermediateDirectories: false)
            chmod(open, 0o777)  // not sticky: anyone could rename the cache away and put theirs there
            let refused = try #require(refusal(open + "/cache"))
            #expect(refused.reason.contains("it lies in \(open), which other users can write"))
            chmod(open, 0o1777)  // sticky, like /tmp: fine
            try PrivateDirectory.prepare(open + "/cache")
        }
    }

    @Test func theBlockStoreRefusesADirectoryAnotherUserOwns() throws {
        try withScratch { scratch in
            let foreign = try foreignDirectory(in: scratch)
            #expect {
                _ = try BlockCache(memoryBudget: 1 << 20, directory: foreign)
            } throws: { error in
                guard case BlockCacheError.unsafeDirectory(let refusal) = error else { return false }
                return refusal.path == foreign && "\(error)".contains("belongs to")
            }
        }
    }
}
