import Glibc
import MountOptions
import Testing

@Suite struct SecretFilesTests {
    @Test(arguments: [
        (UInt32(0o100600), true, true), (0o100400, true, true), (0o100700, true, true),
        (0o100640, true, false), (0o100604, true, false), (0o100620, true, false), (0o100601, true, false),
        (0o100644, false, true), (0o100666, false, true),
    ])
    func permissionRule(_ mode: UInt32, _ containsPassword: Bool, _ allowed: Bool) {
        let result = Result { () throws(SecretFileError) in
            try SecretFiles.checkPermissions(mode: mode, containsPassword: containsPassword, path: "/home/u/.netrc")
        }
        switch result {
        case .success: #expect(allowed)
        case .failure(let error):
            #expect(!allowed)
            #expect(error == .accessibleByOthers(path: "/home/u/.netrc", mode: mode))
            #expect(error.description.contains("mode " + String(mode & 0o7777, radix: 8)))
            #expect(error.description.contains("chmod 600"))
        }
    }

    @Test(arguments: [("/home/u", "/home/u/.netrc"), ("/", "/.netrc"), ("/root/", "/root/.netrc")])
    func defaultNetrcPath(_ home: String, _ path: String) {
        #expect(SecretFiles.defaultNetrcPath(home: home) == path)
    }

    @Test func defaultNetrcPathNeedsHome() {
        #expect(SecretFiles.defaultNetrcPath(home: nil) == nil)
        #expect(SecretFiles.defaultNetrcPath(home: "") == nil)
    }

    // MARK: Real files

    /// A private temporary directory, removed with its files when the test ends.
    final class TemporaryDirectory {
        let path: String
        private var files: [String] = []

        init() throws {
            var template = Array("/tmp/ftpfs-options-XXXXXX".utf8CString)
            let created = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
            path = String(cString: try #require(created))
        }

        func write(_ name: String, _ contents: String, mode: mode_t) throws -> String {
            let file = path + "/" + name
            let descriptor = open(file, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
            try #require(descriptor >= 0)
            defer { close(descriptor) }
            let written = contents.utf8CString.withUnsafeBufferPointer {
                Glibc.write(descriptor, $0.baseAddress, $0.count - 1)
            }
            try #require(written == contents.utf8.count)
            try #require(fchmod(descriptor, mode) == 0)
            files.append(file)
            return file
        }

        deinit {
            for file in files { unlink(file) }
            rmdir(path)
        }
    }

    @Test func loadsPrivateNetrc() throws {
        let directory = try TemporaryDirectory()
        let path = try directory.write("netrc", "machine h login u password p\n", mode: 0o600)
        let netrc = try SecretFiles.loadNetrc(path: path)
        #expect(netrc.entry(forHost: "h")?.password == "p")
    }

    @Test func refusesNetrcWithPasswordReadableByOthers() throws {
        let directory = try TemporaryDirectory()
        let path = try directory.write("netrc", "machine h login u password p\n", mode: 0o644)
        #expect(throws: SecretFileError.accessibleByOthers(path: path, mode: UInt32(S_IFREG) | 0o644)) {
            try SecretFiles.loadNetrc(path: path)
        }
    }

    @Test func acceptsWorldReadableNetrcWithoutPasswords() throws {
        let directory = try TemporaryDirectory()
        let path = try directory.write("netrc", "machine h login u\n", mode: 0o644)
        #expect(try SecretFiles.loadNetrc(path: path).entry(forHost: "h")?.login == "u")
    }

    @Test func reportsMalformedNetrcWithoutItsWords() throws {
        let directory = try TemporaryDirectory()
        let path = try directory.write("netrc", "machine h password two words\n", mode: 0o600)
        let error = try #require(throws: SecretFileError.self) { try SecretFiles.loadNetrc(path: path) }
        #expect(error == .malformedNetrc(path: path, .unexpectedWord(line: 1)))
        #expect(!error.description.contains("words"))
    }

    @Test func missingFileIsRecognisable() throws {
        let directory = try TemporaryDirectory()
        let error = try #require(throws: SecretFileError.self) {
            try SecretFiles.loadNetrc(path: directory.path + "/absent")
        }
        #expect(error.isFileNotFound)
        #expect(error.description.hasSuffix("No such file or directory"))
    }

    @Test func refusesDirectoriesAndDevices() throws {
        let directory = try TemporaryDirectory()
        #expect(throws: SecretFileError.notARegularFile(path: directory.path)) {
            try SecretFiles.loadNetrc(path: directory.path)
        }
        #expect(throws: SecretFileError.notARegularFile(path: "/dev/zero")) {
            try SecretFiles.loadPasswordFile(path: "/dev/zero")
        }
    }

    @Test func loadsPasswordFileAndChecksItsMode() throws {
        let directory = try TemporaryDirectory()
        let privateFile = try directory.write("pass", "s3cret\n", mode: 0o400)
        #expect(try SecretFiles.loadPasswordFile(path: privateFile) == "s3cret\n")
        let sharedFile = try directory.write("shared", "s3cret\n", mode: 0o640)
        #expect(throws: SecretFileError.accessibleByOthers(path: sharedFile, mode: UInt32(S_IFREG) | 0o640)) {
            try SecretFiles.loadPasswordFile(path: sharedFile)
        }
    }
}
