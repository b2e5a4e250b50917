// swift-tools-version:6.0
// A libFuzzer target for the FTPProtocol parsers. It builds the real FTPProtocol sources
// (Sources/FTPProtocol is a symlink to ../../Sources/FTPProtocol), so the main package is
// untouched. Build and run it with ../scripts/fuzz.sh.
import PackageDescription

let package = Package(
    name: "ProtocolFuzzer",
    targets: [
        .target(name: "FTPProtocol"),
        // Its main.swift hands control to libFuzzer's driver (SwiftPM routes the executable's
        // entry point to the module's own main, so libFuzzer's main() cannot be used directly).
        .executableTarget(name: "ProtocolFuzzer", dependencies: ["FTPProtocol"]),
    ]
)
