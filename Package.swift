// swift-tools-version:6.0
// The layout follows ../shared/DESIGN.md: dependencies point down only.
//   ftpfs (CLI) → MountOptions, FTPFileSystem, FuseBridge
//   FTPFileSystem → BlockCache, FTPClient, FuseBridge (for the file system protocol it implements)
//   FuseBridge → CFuse, ThreadSupport;  FTPClient → FTPProtocol, CTLS, CLinux
import PackageDescription

let package = Package(
    name: "ftpfs",
    products: [
        .executable(name: "ftpfs", targets: ["ftpfs"]),
        .library(name: "FTPClient", targets: ["FTPClient"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
    ],
    targets: [
        // Pure parsing and formatting of the FTP protocol. Standard library only.
        .target(name: "FTPProtocol"),
        // A condition lock, a monotonic clock and detached threads, shared by the client and the file system.
        .target(name: "ThreadSupport"),
        // The system's OpenSSL: digests for upload verification, TLS for FTPS.
        .target(name: "CTLS", linkerSettings: [.linkedLibrary("ssl"), .linkedLibrary("crypto")]),
        // Linux system calls Glibc's Swift module leaves out (splice for zero-copy reads).
        .target(name: "CLinux"),
        // Sockets, control and data connections, the connection pool.
        .target(
            name: "FTPClient",
            dependencies: ["FTPProtocol", "ThreadSupport", "CTLS", "CLinux", .product(name: "Logging", package: "swift-log")]
        ),
        // The only place FUSE_USE_VERSION is chosen.
        .target(name: "CFuse", linkerSettings: [.linkedLibrary("fuse3")]),
        // Swift adapter over libfuse3's high-level API.
        .target(name: "FuseBridge", dependencies: ["CFuse", "ThreadSupport"]),
        // Fixed-size blocks of remote files, in memory (LRU) and optionally on disk.
        .target(name: "BlockCache", dependencies: ["ThreadSupport"]),
        // FUSE semantics over FTP.
        .target(
            name: "FTPFileSystem",
            dependencies: [
                "BlockCache", "FTPClient", "FuseBridge", "ThreadSupport",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // URL, -o options and netrc: pure, so the CLI stays thin and testable.
        .target(name: "MountOptions", dependencies: ["FTPProtocol"]),
        .executableTarget(
            name: "ftpfs",
            dependencies: [
                "BlockCache", "MountOptions", "FTPFileSystem", "FuseBridge", "FTPClient", "ThreadSupport",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),

        // Starts real FTP servers (pyftpdlib, vsftpd) on loopback for the tests.
        .target(name: "TestSupport", path: "Tests/TestSupport"),
        .testTarget(name: "FTPProtocolTests", dependencies: ["FTPProtocol"]),
        .testTarget(name: "MountOptionsTests", dependencies: ["MountOptions"]),
        .testTarget(name: "FTPClientTests", dependencies: ["FTPClient", "TestSupport"]),
        .testTarget(name: "BlockCacheTests", dependencies: ["BlockCache"]),
        .testTarget(
            name: "FTPFileSystemTests",
            dependencies: ["FTPFileSystem", "TestSupport", .product(name: "Logging", package: "swift-log")]
        ),
        .testTarget(name: "MountTests", dependencies: ["TestSupport"]),
    ]
)
